"""The Codex, Gemini, OpenCode and Copilot adapters against recorded output of their CLIs."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from optio_runner.agents import create_adapter
from optio_runner.agents.base import AgentAdapter, AgentContext, AgentResult, Collected
from optio_runner.agents.opencode import RESUME_SCRIPT
from optio_runner.loglines import LogLine

SAMPLES = Path(__file__).parent / "samples"


def replay(
    agent_type: str, sample: str, exit_code: int, stderr: tuple[str, ...] = ()
) -> tuple[list[LogLine], Collected, AgentResult]:
    adapter = create_adapter(agent_type)
    assert adapter is not None
    adapter.build_command(context(model=None))
    return feed(adapter, (SAMPLES / sample).read_text(encoding="utf-8").splitlines(), exit_code, stderr)


def feed(
    adapter: AgentAdapter, lines: list[str], exit_code: int, stderr: tuple[str, ...] = ()
) -> tuple[list[LogLine], Collected, AgentResult]:
    collected = Collected()
    logs: list[LogLine] = []
    for line in lines:
        parsed = adapter.parse_line(line)
        collected.absorb(parsed)
        logs.extend(parsed.logs)
    for line in stderr:
        collected.add_stderr(line)
    return logs, collected, adapter.finish(exit_code, collected)


def context(model: str | None = "m-1", resume: str | None = None) -> AgentContext:
    return AgentContext(prompt="Fix it", max_turns=12, model=model, resume_session_id=resume,
                        binary="/opt/agent", custom_command=None)


# --- command lines -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agent_type", "expected"),
    [
        ("codex", ["/opt/agent", "exec", "--json", "--skip-git-repo-check",
                   "--dangerously-bypass-approvals-and-sandbox", "--model", "m-1", "resume", "s-9", "--",
                   "Fix it"]),
        ("gemini", ["/opt/agent", "--prompt=Fix it", "--output-format", "stream-json", "--approval-mode", "yolo",
                    "--skip-trust", "--model", "m-1", "--resume", "s-9"]),
        # A resume first points the restored session at this checkout (see the opencode tests).
        ("opencode", ["sh", "-c", RESUME_SCRIPT, "opencode-resume", "/opt/agent",
                      "UPDATE session SET directory = '/nonexistent' WHERE id = 's-9'",
                      "run", "--format", "json", "--thinking", "--auto", "--model", "m-1", "--session", "s-9",
                      "--", "Fix", "it"]),
        ("copilot", ["/opt/agent", "--prompt=Fix it", "--output-format", "json", "--allow-all", "--no-ask-user",
                     "--no-auto-update", "--usage-output-file", "/nonexistent/copilot-usage.json",
                     "--model", "m-1", "--resume=s-9"]),
    ],
)
def test_command_line_with_model_and_resume(agent_type: str, expected: list[str]) -> None:
    adapter = create_adapter(agent_type)
    assert adapter is not None and adapter.name == agent_type

    assert adapter.build_command(context(resume="s-9")) == expected


@pytest.mark.parametrize("agent_type", ["codex", "gemini", "opencode", "copilot"])
def test_command_line_without_model_or_session(agent_type: str) -> None:
    adapter = create_adapter(agent_type)
    assert adapter is not None

    argv = adapter.build_command(context(model=None))
    assert "--model" not in argv and "resume" not in argv and "--resume" not in argv
    # The prompt is an argument of its own, or an option's value (gemini's --prompt=...), or
    # (opencode) its words, which the CLI joins with spaces.
    assert "--session" not in argv
    assert any(arg.endswith("Fix it") for arg in argv) or argv[-3:] == ["--", "Fix", "it"]


def test_each_run_gets_a_fresh_adapter() -> None:
    first, second = create_adapter("opencode"), create_adapter("opencode")
    assert first is not None and second is not None and first is not second


# --- codex ---------------------------------------------------------------------------------
# The samples are what Codex 0.169.0 printed, run as the adapter runs it against
# tests/fakes/openai_api.py (paths shortened to /workspace/repo).


def test_codex_success() -> None:
    logs, _, result = replay("codex", "codex_success.jsonl", 0)

    assert [line.type for line in logs] == [
        "system", "text", "tool_use", "tool_result", "tool_use", "tool_use", "error", "text", "system",
    ]
    assert logs[0].content == "session 01a2364d-1ca8-7d50-9540-a201ecb79ae3 started"
    assert logs[2].content == "shell: /bin/bash -lc 'cat README.md'"
    assert logs[3].content == "exit 0: # demo"
    assert logs[4].content == "apply_patch: add /workspace/repo/USAGE.md"
    assert logs[6].content.startswith("exit 254: npm error code ENOENT")
    assert result.success and result.error is None
    assert result.summary is not None and result.summary.startswith("Added USAGE.md.")
    assert (result.input_tokens, result.output_tokens) == (4100, 140)
    assert result.session_id == "01a2364d-1ca8-7d50-9540-a201ecb79ae3"
    assert result.cost_usd is None


def test_codex_reports_the_model_it_was_given() -> None:
    adapter = create_adapter("codex")
    assert adapter is not None
    adapter.build_command(context(model="gpt-5-codex"))
    _, collected, result = feed(adapter, (SAMPLES / "codex_success.jsonl").read_text().splitlines(), 0)

    assert collected.model == result.model == "gpt-5-codex"


def test_codex_reads_the_default_model_from_its_session_file(tmp_path: Path) -> None:
    adapter = create_adapter("codex")
    assert adapter is not None
    adapter.build_command(AgentContext(prompt="Fix it", max_turns=12, model=None, resume_session_id=None,
                                       binary="/opt/agent", custom_command=None, home=tmp_path))
    rollout = tmp_path / ".codex/sessions/2026/12/02/rollout-2026-12-02T10-29-13-01a2364d-1ca8-7d50-9540-a201ecb79ae3.jsonl"
    rollout.parent.mkdir(parents=True)
    rollout.write_text('{"type":"session_meta","payload":{"id":"01a2364d-1ca8-7d50-9540-a201ecb79ae3"}}\n'
                       '{"type":"turn_context","payload":{"cwd":"/workspace/repo","model":"gpt-6.1-sol"}}\n')
    _, _, result = feed(adapter, (SAMPLES / "codex_success.jsonl").read_text().splitlines(), 0)

    assert result.model == "gpt-6.1-sol"


def test_codex_counts_only_this_attempts_share_of_a_resumed_thread() -> None:
    """turn.completed carries the thread's running totals: a resume subtracts what the session
    had used when it was saved, and saves the new totals for the next one."""
    adapter = create_adapter("codex")
    assert adapter is not None
    adapter.build_command(AgentContext(prompt="Go on", max_turns=12, model=None, resume_session_id="s-9",
                                       binary="/opt/agent", custom_command=None,
                                       session_meta={"input_tokens": 2700, "output_tokens": 100}))
    _, collected, result = feed(adapter, [
        '{"type":"thread.started","thread_id":"s-9"}',
        '{"type":"turn.completed","usage":{"input_tokens":5700,"cached_input_tokens":0,"output_tokens":110}}',
    ], 0)

    assert result.success and (result.input_tokens, result.output_tokens) == (3000, 10)
    assert adapter.session_meta(collected) == {"input_tokens": 5700, "output_tokens": 110}


def test_codex_rate_limited_until_it_gave_up() -> None:
    logs, collected, result = replay("codex", "codex_rate_limited.jsonl", 1)

    assert [line.type for line in logs] == ["system", *["retry"] * 5, "error", "error"]
    assert logs[1].content.startswith("Reconnecting... 1/5 (exceeded retry limit, last status: 429 Too Many")
    assert not result.success and result.error_kind == "agent_error"
    assert result.error is not None and result.error.startswith("exceeded retry limit, last status: 429")
    # The runner turns this agent_error into rate_limited.
    assert collected.rate_limited is not None and "429 Too Many Requests" in collected.rate_limited
    assert result.input_tokens is None


def test_codex_recovered_error_is_a_success() -> None:
    adapter = create_adapter("codex")
    assert adapter is not None
    lines = (SAMPLES / "codex_success.jsonl").read_text().splitlines()
    _, _, result = feed(adapter, [lines[0], '{"type":"error","message":"Reconnecting... 1/5"}', *lines[1:]], 0)

    assert result.success


@pytest.mark.parametrize("exit_code", [0, 1, -2])
def test_codex_auth_failure(exit_code: int) -> None:
    logs, collected, result = replay("codex", "codex_auth_failure.jsonl", exit_code)

    # The first refused call is enough for the runner to stop the CLI.
    first_retry = next(line for line in logs if line.type == "retry")
    assert collected.auth_failure is not None and collected.auth_failure == first_retry.content
    assert not result.success and result.error_kind == "auth"
    assert result.error is not None and "OPENAI_API_KEY" in result.error and "401 Unauthorized" in result.error


def test_codex_unknown_events_are_summarised() -> None:
    adapter = create_adapter("codex")
    assert adapter is not None
    adapter.build_command(context())
    parsed = adapter.parse_line('{"type":"thread.goal_updated","goal":{"objective":"x"},"status":"active"}')
    item = adapter.parse_line('{"type":"item.completed","item":{"id":"item_9","type":"collab_tool_call",'
                              '"tool":"spawn_agent","receivers":["a"]}}')

    assert [(line.type, line.content) for line in parsed.logs + item.logs] == [
        ("system", "thread.goal_updated: goal=…, status=active"),
        ("system", "collab_tool_call: tool=spawn_agent, receivers=…"),
    ]


def test_codex_declined_command_is_a_refused_tool() -> None:
    adapter = create_adapter("codex")
    assert adapter is not None
    adapter.build_command(context())
    parsed = adapter.parse_line('{"type":"item.completed","item":{"id":"item_1","type":"command_execution",'
                                '"command":"rm -rf build","aggregated_output":"","exit_code":null,'
                                '"status":"declined"}}')

    assert [(line.type, line.content) for line in parsed.logs] == [
        ("permission", "shell command declined: rm -rf build")]
    assert parsed.permission_denied == "shell: rm -rf build"


def test_codex_provider_config_follows_the_base_url_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    adapter = create_adapter("codex")
    assert adapter is not None
    ctx = AgentContext(prompt="Fix it", max_turns=12, model=None, resume_session_id=None, binary="/opt/agent",
                       custom_command=None, home=Path("/workspace/home"))
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    plain = tomllib.loads(adapter.config_files(ctx)[".codex/config.toml"])
    monkeypatch.setenv("OPENAI_BASE_URL", 'https://gateway.example.com/v1?team="a"')
    custom = tomllib.loads(adapter.config_files(ctx)[".codex/config.toml"])

    assert adapter.environment(ctx) == {"CODEX_HOME": "/workspace/home/.codex"}
    assert adapter.session_dirs == (".codex/sessions",)
    assert "model_provider" not in plain and plain["analytics"] == {"enabled": False}
    assert custom["model_provider"] == "optio"
    assert custom["model_providers"]["optio"] == {
        "name": "OpenAI API at OPENAI_BASE_URL", "base_url": 'https://gateway.example.com/v1?team="a"',
        "env_key": "OPENAI_API_KEY", "wire_api": "responses"}


def test_codex_without_a_completed_turn_fails() -> None:
    adapter = create_adapter("codex")
    assert adapter is not None
    lines = (SAMPLES / "codex_success.jsonl").read_text().splitlines()[:-1]

    _, _, result = feed(adapter, lines, 0)
    assert not result.success and result.error == "agent exited without completing a turn"


# --- gemini --------------------------------------------------------------------------------
# The samples are what Gemini CLI 0.61.0 printed, run as the adapter runs it against
# tests/fakes/gemini_api.py (paths shortened to /workspace/repo).


def test_gemini_success() -> None:
    logs, collected, result = replay("gemini", "gemini_success.jsonl", 0)

    assert [line.type for line in logs] == [
        "system", "text", "tool_use", "tool_result", "tool_use", "tool_result", "tool_use", "error",
        "text", "system",
    ]
    assert logs[0].content == "session 2c669050-4dea-4d02-a402-6c5dce6f19b1 started (model auto)"
    assert logs[2].content == ('write_file: {"file_path": "/workspace/repo/GREETING.md", '
                               '"content": "# Hello\\n\\nHello, world!\\n"}')
    assert logs[3].content == "write_file: done"
    assert logs[5].content == "run_shell_command: # Hello\n\nHello, world!\n?? GREETING.md"
    assert logs[7].content == "read_file failed (file_not_found): File not found: /workspace/repo/CHANGELOG.md"
    assert logs[-1].content.startswith("result: success, 5560 input tokens (0 cached), 175 output tokens, 3 tool calls")
    # "auto" routed the turns; the model that did the work is the one the result names the most.
    assert result == AgentResult(
        success=True,
        summary="Added GREETING.md, which says hello.",
        input_tokens=5560,
        output_tokens=175,
        model="gemini-3.1-pro-preview-customtools",
        session_id="2c669050-4dea-4d02-a402-6c5dce6f19b1",
    )
    assert collected.final is not None and collected.permission_denied is None


def test_gemini_with_a_named_model_reports_the_model_before_the_result() -> None:
    adapter = create_adapter("gemini")
    assert adapter is not None
    adapter.build_command(context(model="gemini-2.5-pro"))
    init = '{"type":"init","session_id":"s-1","model":"gemini-2.5-pro"}'

    _, collected, result = feed(adapter, [init], 143)
    assert collected.model == "gemini-2.5-pro" and result.model == "gemini-2.5-pro"


def test_gemini_overload_fails_as_a_rate_limit() -> None:
    logs, collected, result = replay("gemini", "gemini_error.jsonl", 247)

    assert logs[-1].type == "error" and logs[-1].content == "[API Error: The model is overloaded. Please try again later.]"
    assert collected.rate_limited is not None
    assert not result.success and result.error_kind == "agent_error"  # the runner's verdict makes it rate_limited
    assert result.error is not None and "The model is overloaded" in result.error
    assert "agent exited with code 247" in result.error


def test_gemini_rate_limit_it_gave_up_on() -> None:
    logs, collected, result = replay("gemini", "gemini_rate_limited.jsonl", 173)

    assert logs[-1].content.startswith("[API Error: Resource has been exhausted (e.g. check quota).]")
    assert collected.rate_limited is not None and collected.auth_failure is None
    assert not result.success and result.error_kind == "agent_error"  # the runner's verdict makes it rate_limited


def test_gemini_turn_limit() -> None:
    _, _, result = replay("gemini", "gemini_max_turns.jsonl", 53)

    assert not result.success and result.error_kind == "max_turns"
    assert result.error is not None and "Reached max session turns" in result.error
    assert result.input_tokens == 3010 and result.output_tokens == 155


def test_gemini_refused_tools_are_permission_lines() -> None:
    """Run without approval, the CLI leaves out its editing and shell tools and says "not found"."""
    logs, collected, result = replay("gemini", "gemini_refused_tools.jsonl", 0)

    refusals = [line.content for line in logs if line.type == "permission"]
    assert refusals == [
        'write_file was refused: Tool "write_file" not found. Did you mean one of: "read_file", '
        '"update_topic", "grep_search"?',
        'run_shell_command was refused: Tool "run_shell_command" not found. Did you mean one of: '
        '"update_topic", "grep_search", "invoke_agent"?',
    ]
    assert collected.permission_denied == refusals[0]
    assert result.success  # the CLI's word; the runner's verdict turns it into a failure


def test_gemini_policy_denial_is_a_refusal() -> None:
    adapter = create_adapter("gemini")
    assert adapter is not None
    adapter.build_command(context())
    lines = [
        '{"type":"tool_use","tool_name":"run_shell_command","tool_id":"t-1","parameters":{"command":"rm -rf /"}}',
        '{"type":"tool_result","tool_id":"t-1","status":"error","output":"Tool execution denied by policy.",'
        '"error":{"type":"policy_violation","message":"Tool execution denied by policy."}}',
    ]

    logs, collected, _ = feed(adapter, lines, 0)
    assert logs[-1].type == "permission"
    assert collected.permission_denied == "run_shell_command was refused: Tool execution denied by policy."


@pytest.mark.parametrize("exit_code", [0, 144])
def test_gemini_auth_failure(exit_code: int) -> None:
    adapter = create_adapter("gemini")
    assert adapter is not None
    adapter.build_command(context(model=None))
    lines = (SAMPLES / "gemini_auth_failure.jsonl").read_text().splitlines()
    # The runner stops the CLI at the first line that shows the refusal: the result.
    assert [adapter.parse_line(line).auth_failure is not None for line in lines] == [False, False, True]

    _, _, result = feed(create_adapter("gemini") or adapter, lines, exit_code)
    assert not result.success and result.error_kind == "auth"
    assert result.error is not None and "GEMINI_API_KEY" in result.error and "API key not valid" in result.error


@pytest.mark.parametrize("status", ["UNAUTHENTICATED", "PERMISSION_DENIED"])
def test_gemini_other_key_refusals(status: str) -> None:
    adapter = create_adapter("gemini")
    assert adapter is not None
    line = ('{"type":"result","status":"error","error":{"type":"unknown","message":"[API Error: '
            '{\\"error\\":{\\"code\\":401,\\"status\\":\\"' + status + '\\"}}]"}}')

    assert adapter.parse_line(line).auth_failure is not None


def test_gemini_without_a_key_fails_as_auth() -> None:
    """No GEMINI_API_KEY secret: the CLI says so on stderr, prints nothing else and exits 41."""
    adapter = create_adapter("gemini")
    assert adapter is not None
    stderr = ("YOLO mode is enabled. All tool calls will be automatically approved.",
              "When using Gemini API, you must specify the GEMINI_API_KEY environment variable.",
              "Update your environment and try again (no reload needed if using .env)!")

    _, _, result = feed(adapter, [], 41, stderr=stderr)
    assert not result.success and result.error_kind == "auth"


def test_gemini_unknown_event_is_summarised() -> None:
    adapter = create_adapter("gemini")
    assert adapter is not None
    line = '{"type":"checkpoint","timestamp":"t","id":"c-1","files":["a","b"]}'

    logs = adapter.parse_line(line).logs
    assert [(entry.type, entry.content) for entry in logs] == [("system", "checkpoint event: id=c-1, files=…")]


def test_gemini_home_holds_its_settings_and_its_project_slug(tmp_path: Path) -> None:
    adapter = create_adapter("gemini")
    assert adapter is not None
    work = tmp_path / "t-1-2" / "repo"
    ctx = AgentContext(prompt="Fix it", max_turns=12, model=None, resume_session_id="s-9", binary="gemini",
                       custom_command=None, home=tmp_path / "home", work_dir=work)

    files = adapter.config_files(ctx)
    settings = json.loads(files[".gemini/settings.json"])
    assert settings["security"]["auth"]["selectedType"] == "gemini-api-key"
    assert settings["privacy"]["usageStatisticsEnabled"] is False and settings["telemetry"]["enabled"] is False
    assert settings["model"]["maxSessionTurns"] == 12
    assert json.loads(files[".gemini/projects.json"]) == {"projects": {str(work): "optio"}}
    assert files[".gemini/tmp/optio/.project_root"] == str(work)
    assert adapter.session_dirs == (".gemini/tmp/optio/chats", ".gemini/tmp/optio/tool-outputs")
    assert adapter.environment(ctx) == {"GEMINI_CLI_NO_RELAUNCH": "true", "TMPDIR": str(tmp_path / "home/.gemini/tmp")}
    assert any(path.startswith(".gemini/tmp/") for path in files)  # so TMPDIR exists


def test_gemini_without_result_fails() -> None:
    lines = (SAMPLES / "gemini_success.jsonl").read_text().splitlines()[:-1]
    adapter = create_adapter("gemini")
    assert adapter is not None

    _, _, result = feed(adapter, lines, 0)
    assert not result.success and result.error == "agent exited without reporting a result"


# --- opencode ------------------------------------------------------------------------------
# The samples are what OpenCode 1.18.33 printed, run as the adapter runs it against
# tests/fakes/openai_api.py through the OPENAI_BASE_URL provider (paths shortened to /workspace).


def test_opencode_success(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without a gateway the cost is OpenCode's own (the recording's model was priced at $2.50 and
    # $10 per million input and output tokens).
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    logs, _, result = replay("opencode", "opencode_success.jsonl", 0)

    assert [line.type for line in logs] == [
        "text", "tool_use", "tool_result", "system", "tool_use", "tool_result", "tool_use", "error", "system",
        "tool_use", "error", "system", "text", "system",
    ]
    assert logs[1].content == 'read: {"filePath":"/workspace/repo/README.md"}'
    assert logs[5].content == "Success. Updated the following files:\nA USAGE.md"
    assert logs[7].content.startswith("exit 254: npm error code ENOENT")
    assert logs[10].content == "read failed: File not found: /workspace/repo/CHANGELOG.md"
    assert logs[3].content == "step 1 finished (tool-calls), $0.0058 so far"
    assert logs[-1].content == "step 4 finished (stop), $0.0253 so far"
    assert result.success
    assert result.summary == "Added USAGE.md. `npm test` is not available here, so I could not run the tests."
    assert result.cost_usd == pytest.approx(0.0253)
    assert (result.input_tokens, result.output_tokens) == (2000 + 2300 + 2490 + 2650, 80 + 40 + 30 + 20)
    assert result.session_id == "ses_dc9a764b5ffeB24uGo9lvn0VRb"


def test_opencode_counts_cached_and_reasoning_tokens_and_the_running_cost() -> None:
    adapter = create_adapter("opencode")
    assert adapter is not None
    adapter.build_command(context(model="anthropic/claude-sonnet-4-5"))
    collected = Collected()
    seen = []
    for cost, cache_read in ((0.0123, 9000), (0.0089, 10200)):
        collected.absorb(adapter.parse_line(json.dumps({
            "type": "step_finish", "sessionID": "ses_1", "part": {
                "type": "step-finish", "reason": "tool-calls", "cost": cost,
                "tokens": {"input": 300, "output": 150, "reasoning": 20, "cache": {"read": cache_read, "write": 500}}}})))
        seen.append(collected.cost_usd)
    thinking = adapter.parse_line('{"type":"reasoning","sessionID":"ses_1","part":{"type":"reasoning",'
                                  '"text":"I should read the README first."}}')
    result = adapter.finish(0, collected)

    assert [round(cost or 0, 4) for cost in seen] == [0.0123, 0.0212]
    assert [(line.type, line.content) for line in thinking.logs] == [("thinking", "I should read the README first.")]
    assert result.cost_usd == pytest.approx(0.0212)
    assert (result.input_tokens, result.output_tokens) == (2 * 300 + 9000 + 10200 + 2 * 500, 2 * 170)
    assert result.model == "claude-sonnet-4-5"


def test_opencode_gateway_cost_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "https://gateway.example.com/v1")
    adapter = create_adapter("opencode")
    assert adapter is not None
    argv = adapter.build_command(context(model=None))
    logs, collected, result = feed(adapter, (SAMPLES / "opencode_success.jsonl").read_text().splitlines(), 0)

    assert argv[argv.index("--model") + 1] == "openai-gateway/gpt-5"
    assert collected.cost_usd is None and result.cost_usd is None
    assert logs[-1].content == "step 4 finished (stop), cost unknown"
    assert result.model == "gpt-5" and result.success


@pytest.mark.parametrize(
    ("model", "gateway_model", "argv_model"),
    [
        (None, "gpt-5", "openai-gateway/gpt-5"),
        ("gpt-5-codex", "gpt-5-codex", "openai-gateway/gpt-5-codex"),
        ("openai/gpt-5-codex", "gpt-5-codex", "openai-gateway/gpt-5-codex"),
        ("anthropic/claude-sonnet-4-5", None, "anthropic/claude-sonnet-4-5"),
    ],
)
def test_opencode_config_routes_openai_models_to_the_base_url(
    monkeypatch: pytest.MonkeyPatch, model: str | None, gateway_model: str | None, argv_model: str
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "https://gateway.example.com/v1")
    adapter = create_adapter("opencode")
    assert adapter is not None
    ctx = AgentContext(prompt="Fix it", max_turns=12, model=model, resume_session_id=None, binary="/opt/agent",
                       custom_command=None, home=Path("/workspace/home"))
    argv = adapter.build_command(ctx)
    config = json.loads(adapter.config_files(ctx)[".config/opencode/opencode.json"])

    assert argv[argv.index("--model") + 1] == argv_model
    assert config["permission"] == "allow" and config["autoupdate"] is False and config["snapshot"] is False
    if gateway_model is None:
        assert "provider" not in config
    else:
        assert config["model"] == f"openai-gateway/{gateway_model}"
        assert config["provider"]["openai-gateway"] == {
            "npm": "@ai-sdk/openai", "name": "OpenAI API at OPENAI_BASE_URL",
            "options": {"baseURL": "https://gateway.example.com/v1", "apiKey": "{env:OPENAI_API_KEY}"},
            "models": {gateway_model: {"name": gateway_model}}}
    assert adapter.environment(ctx)["XDG_DATA_HOME"] == "/workspace/home/.local/share"
    assert adapter.session_dirs == (".local/share/opencode",)


def test_opencode_without_a_gateway_leaves_providers_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    adapter = create_adapter("opencode")
    assert adapter is not None
    ctx = context(model=None)
    argv = adapter.build_command(ctx)

    assert "--model" not in argv
    assert json.loads(adapter.config_files(ctx)[".config/opencode/opencode.json"]) == {
        "permission": "allow", "autoupdate": False, "share": "disabled", "snapshot": False}


def test_opencode_resume_moves_the_session_to_this_checkout() -> None:
    adapter = create_adapter("opencode")
    assert adapter is not None
    ctx = AgentContext(prompt="-v it's fine", max_turns=12, model=None, resume_session_id="ses_1",
                       binary="/opt/opencode", custom_command=None, work_dir=Path("/tmp/o'brien/repo"))
    argv = adapter.build_command(ctx)

    assert argv[:6] == ["sh", "-c", RESUME_SCRIPT, "opencode-resume", "/opt/opencode",
                        "UPDATE session SET directory = '/tmp/o''brien/repo' WHERE id = 'ses_1'"]
    assert argv[6:] == ["run", "--format", "json", "--thinking", "--auto", "--session", "ses_1",
                        "--", "-v", "it's", "fine"]


def test_opencode_refused_tool_is_a_permission_line() -> None:
    logs, collected, result = replay("opencode", "opencode_rejected.jsonl", 0)

    assert [(line.type, line.content) for line in logs[:2]] == [
        ("tool_use", 'bash: {"command":"rm -rf build","description":"Run a command"}'),
        ("permission", "bash refused: The user rejected permission to use this specific tool call."),
    ]
    # The runner fails a "success" with a refused tool.
    assert collected.permission_denied == "bash: The user rejected permission to use this specific tool call."


def test_opencode_unknown_events_are_summarised() -> None:
    adapter = create_adapter("opencode")
    assert adapter is not None
    parsed = adapter.parse_line('{"type":"compaction","timestamp":1,"sessionID":"ses_1","part":{"auto":true},'
                                '"reason":"overflow"}')
    invalid = adapter.parse_line('{"type":"tool_use","sessionID":"ses_1","part":{"type":"tool","tool":"invalid",'
                                 '"state":{"status":"completed","input":{"tool":"bash","error":"Model tried to call '
                                 'unavailable tool \'bash\'."}}}}')

    assert [(line.type, line.content) for line in parsed.logs + invalid.logs] == [
        ("system", "compaction: part=…, reason=overflow"),
        ("error", "unavailable tool bash: Model tried to call unavailable tool 'bash'."),
    ]


@pytest.mark.parametrize("exit_code", [0, 1])
def test_opencode_rate_limit_error_fails_even_with_exit_zero(exit_code: int) -> None:
    logs, collected, result = replay("opencode", "opencode_error.jsonl", exit_code)

    assert logs[-1].type == "error"
    assert logs[-1].content == "APIError: Rate limit reached for requests. Please try again in 0s."
    assert not result.success and result.error_kind == "agent_error"
    assert result.error is not None and result.error.startswith("APIError: Rate limit reached")
    # The runner turns this agent_error into rate_limited.
    assert collected.rate_limited is not None and collected.rate_limited.endswith("(HTTP 429)")
    assert result.cost_usd is None


@pytest.mark.parametrize(
    "line",
    [
        (SAMPLES / "opencode_auth_failure.jsonl").read_text().strip(),
        '{"type":"error","sessionID":"s","error":{"name":"ProviderAuthError","data":{"providerID":"anthropic",'
        '"message":"invalid x-api-key"}}}',
    ],
)
def test_opencode_auth_failure(line: str) -> None:
    adapter = create_adapter("opencode")
    assert adapter is not None

    _, collected, result = feed(adapter, [line], 0)
    assert collected.auth_failure is not None
    assert not result.success and result.error_kind == "auth"
    assert result.error is not None and "OPENAI_API_KEY" in result.error


# --- copilot -------------------------------------------------------------------------------
# Recorded from Copilot CLI 1.0.102 (`--output-format json`) against tests/fakes/copilot_api.py, and
# (the .txt samples) what it prints on stderr without a usable GitHub token.

COPILOT_SESSION = "c69398dc-b968-4861-b029-3469fc4144b4"


def copilot_replay(sample: str, exit_code: int, home: Path | None = None, resume: str | None = None,
                   meta: dict[str, int] | None = None) -> tuple[list[LogLine], Collected, AgentResult, AgentAdapter]:
    adapter = create_adapter("copilot")
    assert adapter is not None
    ctx = AgentContext(prompt="Fix it", max_turns=12, model=None, resume_session_id=resume, binary="/opt/agent",
                       custom_command=None, home=home or Path("/nonexistent"), session_meta=meta)
    adapter.build_command(ctx)
    logs, collected, result = feed(adapter, (SAMPLES / sample).read_text(encoding="utf-8").splitlines(), exit_code)
    return logs, collected, result, adapter


def copilot_home(tmp_path: Path, usage_sample: str) -> Path:
    """An agent HOME holding the usage file the CLI wrote at the end of the recorded run."""
    (tmp_path / "copilot-usage.json").write_text((SAMPLES / usage_sample).read_text())
    return tmp_path


def test_copilot_success(tmp_path: Path) -> None:
    home = copilot_home(tmp_path, "copilot_success_usage.json")
    logs, _, result, adapter = copilot_replay("copilot_success.jsonl", 0, home)

    assert [(line.type, line.content) for line in logs] == [
        ("text", "I'll add the file."),
        ("tool_use", "create: /tmp/optio-sample/repo/GREETING.md"),
        ("system", "file created: /tmp/optio-sample/repo/GREETING.md"),
        ("tool_result", "Created file /tmp/optio-sample/repo/GREETING.md with 6 characters"),
        ("tool_use", "bash: ls"),
        ("tool_result", "GREETING.md\n<shellId: 0 completed with exit code 0>"),
        ("text", "Added GREETING.md; the directory now holds it."),
        ("system", "session finished with exit code 0: +1 -0 lines in 1 files"),
    ]
    assert result.success and result.summary == "Added GREETING.md; the directory now holds it."
    assert (result.model, result.input_tokens, result.output_tokens) == ("claude-sonnet-4.6", 4100, 120)
    assert result.session_id == COPILOT_SESSION
    assert result.cost_usd is None
    assert adapter.session_meta(Collected()) == {"input_tokens": 4100, "output_tokens": 120}


def test_copilot_resume_counts_only_its_own_calls(tmp_path: Path) -> None:
    home = copilot_home(tmp_path, "copilot_resumed_usage.json")
    # The CLI's totals for a resumed session include the first attempt's 4100 / 120 tokens.
    _, _, result, adapter = copilot_replay("copilot_resumed.jsonl", 0, home, resume=COPILOT_SESSION,
                                           meta={"input_tokens": 4100, "output_tokens": 120})

    assert result.success and result.summary == "The file says Hello."
    assert (result.input_tokens, result.output_tokens) == (2000, 30)
    assert result.session_id == COPILOT_SESSION
    assert adapter.session_meta(Collected()) == {"input_tokens": 6100, "output_tokens": 150}


def test_copilot_without_a_usage_file_has_no_tokens() -> None:
    _, _, result, adapter = copilot_replay("copilot_success.jsonl", 0)

    assert result.success and (result.input_tokens, result.output_tokens) == (None, None)
    assert adapter.session_meta(Collected()) == {}


def test_copilot_failing_tools_are_logged_readably() -> None:
    logs, _, result, _ = copilot_replay("copilot_tool_failures.jsonl", 0)

    failures = [(line.type, line.content) for line in logs if line.type in ("error", "tool_result")]
    assert failures == [
        ("error", "view failed: Path does not exist"),
        ("tool_result", "oops\n<shellId: 0 completed with exit code 3>"),
        ("error", "no_such_tool failed: Tool 'no_such_tool' does not exist."),
    ]
    assert not any(line.content.lstrip().startswith("{") for line in logs)
    # The agent carried on and finished: failing tools are its business, not a refusal.
    assert result.success and result.summary == "Done, with failures."


def test_copilot_refused_tool_is_a_permission_line() -> None:
    logs, collected, result, _ = copilot_replay("copilot_permission_denied.jsonl", 0)

    refused = [line.content for line in logs if line.type == "permission"]
    assert refused == ["create was refused: Permission to run this tool was denied due to the following "
                       "rules: `write`"]
    assert collected.permission_denied is not None and collected.permission_denied.startswith("create: ")
    assert result.summary == "I could not write the file."


def test_copilot_refused_key_is_an_auth_failure_at_the_first_refusal() -> None:
    adapter = create_adapter("copilot")
    assert adapter is not None
    adapter.build_command(context(model=None))
    lines = (SAMPLES / "copilot_key_refused.jsonl").read_text().splitlines()
    first_refusal = next(i for i, line in enumerate(lines) if '"model.call_failure"' in line)

    parsed = [adapter.parse_line(line) for line in lines[: first_refusal + 1]]
    assert [p.auth_failure for p in parsed[:-1]] == [None] * first_refusal
    assert parsed[-1].auth_failure is not None and "HTTP 401" in parsed[-1].auth_failure
    assert "Incorrect API key provided." in parsed[-1].auth_failure

    _, _, result, _ = copilot_replay("copilot_key_refused.jsonl", 1)
    assert not result.success and result.error_kind == "auth"
    assert result.error is not None and "COPILOT_PROVIDER_API_KEY" in result.error


def test_copilot_rate_limit_is_retried_then_reported() -> None:
    logs, collected, result, _ = copilot_replay("copilot_rate_limited.jsonl", 1)

    retries = [line.content for line in logs if line.type == "retry"]
    assert len(retries) == 5
    assert retries[0] == ("retrying the model call (rate_limit) after HTTP 429: Rate limit reached for "
                          "requests. Please try again in 0s.")
    assert collected.rate_limited is not None
    assert not result.success and result.error_kind == "agent_error"
    assert result.error is not None and result.error.startswith("Failed to get response from the AI model; retried 5")


@pytest.mark.parametrize("sample", ["copilot_auth_failure.txt", "copilot_token_unvalidated.txt"])
def test_copilot_github_sign_in_failure_on_stderr(sample: str) -> None:
    stderr = tuple((SAMPLES / sample).read_text().splitlines())
    adapter = create_adapter("copilot")
    assert adapter is not None

    _, _, result = feed(adapter, [], 1, stderr=stderr)
    assert not result.success and result.error_kind == "auth"
    assert result.error is not None and "GH_TOKEN" in result.error


def test_copilot_unknown_event_is_summarised() -> None:
    adapter = create_adapter("copilot")
    assert adapter is not None
    line = json.dumps({"type": "session.plan_changed", "data": {"plan": "x" * 500}, "id": "e-1"})

    logs = adapter.parse_line(line).logs
    assert [entry.type for entry in logs] == ["system"]
    assert logs[0].content.startswith('session.plan_changed: {"plan":"xxx') and len(logs[0].content) < 260


def test_copilot_keeps_its_state_under_the_agent_home(tmp_path: Path) -> None:
    adapter = create_adapter("copilot")
    assert adapter is not None
    ctx = AgentContext(prompt="Fix it", max_turns=12, model=None, resume_session_id=None, binary="/opt/agent",
                       custom_command=None, home=tmp_path)

    assert adapter.environment(ctx)["COPILOT_HOME"] == str(tmp_path / ".copilot")
    assert adapter.session_dirs == (".copilot/session-state",)


# --- every adapter -------------------------------------------------------------------------


@pytest.mark.parametrize("agent_type", ["codex", "gemini", "opencode", "copilot"])
def test_garbage_never_raises(agent_type: str) -> None:
    adapter = create_adapter(agent_type)
    assert adapter is not None
    lines = (SAMPLES / "garbage.jsonl").read_text().splitlines()
    lines += ['{"type":"item.completed","item":"not an object"}', '{"type":"tool_use","part":[1]}',
              '{"type":"result","stats":"none"}', '{"type":"error","error":null}', "\x1b[31m"]

    logs, _, result = feed(adapter, lines, 3)
    assert logs and not result.success
    assert result.error is not None and "3" in result.error


@pytest.mark.parametrize("agent_type", ["codex", "gemini", "opencode"])
def test_plain_auth_message_fails_even_with_exit_zero(agent_type: str) -> None:
    adapter = create_adapter(agent_type)
    assert adapter is not None
    lines = {"codex": "Error: Not logged in. Run codex login.",
             "gemini": "Please set an Auth method in your settings.json or set GEMINI_API_KEY",
             "opencode": "Error: ProviderAuthError: no API key found for anthropic"}[agent_type]

    _, _, result = feed(adapter, [lines], 0)
    assert result.error_kind == "auth"
