"""The Claude Code adapter against stream-json the real CLI printed (2.1.330 against the
Anthropic stand-in, paths rewritten to /workspace; garbage.jsonl is hand-made)."""

from __future__ import annotations

from pathlib import Path

import pytest
from optio_runner.agents import create_adapter
from optio_runner.agents.base import AgentContext, AgentResult, Collected
from optio_runner.agents.claude_code import ClaudeCodeAdapter
from optio_runner.loglines import LogLine

SAMPLES = Path(__file__).parent / "samples"
SESSION = "473a16f2-5f8a-43d3-87fa-5612a6a235a6"


def context(**fields: object) -> AgentContext:
    values: dict[str, object] = {
        "prompt": "Fix it", "max_turns": 12, "model": "claude-opus-4-1", "resume_session_id": None,
        "binary": "/opt/claude", "custom_command": None, "home": Path("/workspace/home"),
        "work_dir": Path("/workspace/repo"), **fields,
    }
    return AgentContext(**values)  # type: ignore[arg-type]


def replay(
    name: str, exit_code: int, stderr: tuple[str, ...] = (), ctx: AgentContext | None = None
) -> tuple[list[LogLine], Collected, AgentResult]:
    adapter = ClaudeCodeAdapter()
    if ctx is not None:
        adapter.build_command(ctx)
    collected = Collected()
    logs: list[LogLine] = []
    for line in (SAMPLES / name).read_text(encoding="utf-8").splitlines():
        parsed = adapter.parse_line(line)
        collected.absorb(parsed)
        logs.extend(parsed.logs)
    for line in stderr:
        collected.add_stderr(line)
    return logs, collected, adapter.finish(exit_code, collected)


def test_success_sample() -> None:
    logs, collected, result = replay("success.jsonl", 0)

    assert [line.type for line in logs] == [
        "system", "text", "tool_use", "tool_result", "tool_use", "tool_result", "text", "system",
    ]
    assert logs[0].content.startswith("session ") and "permission mode bypassPermissions" in logs[0].content
    assert logs[2].content == 'Write: {"file_path":"/workspace/repo/GREETING.md","content":"# Hello\\n\\nHello, world!\\n"}'
    assert logs[3].content.startswith("File created successfully at: /workspace/repo/GREETING.md")
    assert logs[5].content == "# Hello\n\nHello, world!\n?? GREETING.md"
    assert logs[-1].content.startswith("result: success, 3 turns, $0.0144")
    assert all(line.at.endswith("Z") and "T" in line.at for line in logs)
    assert collected.permission_denied is None
    assert result == AgentResult(
        success=True,
        summary="Added GREETING.md, which says hello.",
        cost_usd=pytest.approx(0.0144),  # type: ignore[arg-type]
        input_tokens=4100,
        output_tokens=140,
        model="claude-sonnet-4-5-20250929",
        session_id=result.session_id,
    )
    assert result.session_id is not None and len(result.session_id) == 36


def test_resumed_session_reports_only_this_attempts_cost_and_tokens() -> None:
    # The session's total is $0.02385 (both invocations); this one made one call of 3000/30 tokens.
    _, _, result = replay("resumed.jsonl", 0)

    assert result.success
    assert result.cost_usd == pytest.approx(3000 * 3e-6 + 30 * 15e-6)
    assert (result.input_tokens, result.output_tokens) == (3000, 30)


def test_resumed_session_without_per_invocation_usage_subtracts_the_saved_total() -> None:
    lines = (SAMPLES / "resumed.jsonl").read_text().splitlines()
    result_line = lines[-1].replace('"model_usage_since_last_result"', '"older_cli_had_no_such_key"')
    adapter = ClaudeCodeAdapter()
    adapter.build_command(context(resume_session_id="s", session_meta={"session_cost_usd": 0.0144}))
    collected = Collected()
    for line in [*lines[:-1], result_line]:
        collected.absorb(adapter.parse_line(line))

    assert adapter.finish(0, collected).cost_usd == pytest.approx(0.00945)
    assert adapter.session_meta(collected) == {"session_cost_usd": pytest.approx(0.02385)}


def test_session_meta_keeps_the_total_when_the_attempt_reported_none() -> None:
    adapter = ClaudeCodeAdapter()
    adapter.build_command(context(resume_session_id="s", session_meta={"session_cost_usd": 0.5}))

    assert adapter.session_meta(Collected()) == {"session_cost_usd": 0.5}
    assert ClaudeCodeAdapter().session_meta(Collected()) == {}


def test_refused_tool_is_logged_as_a_permission_line_and_marked() -> None:
    logs, collected, result = replay("permission_denied.jsonl", 0)

    permission = [line.content for line in logs if line.type == "permission"]
    assert permission == [
        "Write refused: Claude requested permissions to write to /workspace/repo/GREETING.md, "
        "but you haven't granted it yet."
    ]
    errors = [line.content for line in logs if line.type == "error"]
    assert "Bash failed: Exit code 1\ncat: GREETING.md: No such file or directory" in errors
    assert collected.permission_denied is not None and collected.permission_denied.startswith("Write")
    # The CLI calls it a success; the runner's judgement (_judged) turns it into a failure.
    assert result.success


def test_max_turns_sample() -> None:
    logs, _, result = replay("error_max_turns.jsonl", 1)

    assert [line.type for line in logs] == ["system", "text", "tool_use", "tool_result", "error", "error"]
    assert logs[-1].content == "Reached maximum number of turns (1)"
    assert not result.success
    assert result.error_kind == "max_turns"
    assert result.error == "agent stopped at the maximum number of turns (1)"
    assert (result.cost_usd, result.input_tokens, result.output_tokens) == (pytest.approx(0.0048), 1200, 80)
    _, _, with_ctx = replay("error_max_turns.jsonl", 1, ctx=context(max_turns=7))
    assert with_ctx.error == "agent stopped at the maximum number of turns (7)"


def test_budget_reaches_the_cli_and_its_stop_is_a_budget_failure() -> None:
    ctx = context(env={"OPTIO_BUDGET_USD": "0.005"})
    assert ClaudeCodeAdapter().build_command(ctx)[-2:] == ["--max-budget-usd", "0.005"]
    assert "--max-budget-usd" not in ClaudeCodeAdapter().build_command(context())

    logs, _, result = replay("error_max_budget_usd.jsonl", 1, ctx=ctx)

    assert logs[-1].content == "Reached maximum budget ($0.005)"
    assert (result.success, result.error_kind) == (False, "budget")
    assert result.error == "budget exceeded: the agent's cost $0.0096 passed the budget $0.01"
    assert (result.input_tokens, result.output_tokens) == (2600, 120)


def test_no_conversation_to_resume() -> None:
    logs, _, result = replay(
        "error_during_execution.jsonl", 1,
        stderr=("No conversation found with session ID: 0b7e55a1-6a0e-4f2c-8a53-1b2c3d4e5f60",),
    )

    assert logs[0].type == "error" and logs[0].content.startswith("result: error_during_execution")
    assert not result.success
    assert result.error_kind == "agent_error"
    assert result.error is not None and "No conversation found" in result.error
    assert result.summary is None


def test_auth_failure_sample() -> None:
    logs, collected, result = replay("auth_failure.jsonl", 1)

    assert collected.model == "claude-sonnet-4-5-20250929"  # not the <synthetic> message's
    assert "Invalid API key · Fix external API key" in [line.content for line in logs if line.type == "error"]
    assert not result.success
    assert result.error_kind == "auth"
    assert result.error is not None
    assert "could not authenticate" in result.error and "ANTHROPIC_API_KEY" in result.error


def test_first_auth_retry_marks_the_auth_failure_and_reads_as_a_retry_line() -> None:
    adapter = ClaudeCodeAdapter()
    init, first_retry, _ = (SAMPLES / "auth_retry.jsonl").read_text().splitlines()

    assert adapter.parse_line(init).auth_failure is None
    parsed = adapter.parse_line(first_retry)
    assert parsed.auth_failure == "API error 401: authentication_failed"
    assert [(line.type, line.content) for line in parsed.logs] == [
        ("retry", "API call failed (401: authentication_failed); retry 1 of 10 in 0.6 s")
    ]
    assert "{" not in parsed.logs[0].content


@pytest.mark.parametrize(("sample", "marker"), [
    ("rate_limited.jsonl", "API error 429: rate_limit"),
    ("overloaded.jsonl", "API error 529"),
])
def test_rate_limits_are_marked(sample: str, marker: str) -> None:
    logs, collected, result = replay(sample, 1)

    assert collected.rate_limited is not None and collected.rate_limited.startswith(marker)
    assert logs[1].type == "retry"
    assert not result.success and result.error_kind == "agent_error"  # the runner makes it rate_limited
    assert collected.auth_failure is None


@pytest.mark.parametrize("stderr_line", ["API Error: 401 Unauthorized", '{"type":"authentication_error"}'])
def test_auth_failure_on_stderr(stderr_line: str) -> None:
    _, _, result = replay("error_during_execution.jsonl", 1, stderr=(stderr_line,))

    assert result.error_kind == "auth"


def test_bedrock_auth_failure_points_at_the_role() -> None:
    adapter = ClaudeCodeAdapter()
    adapter.build_command(context(env={"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "eu-west-1"}))
    collected = Collected()
    collected.add_stderr("ExpiredTokenException: The security token included in the request is expired")

    result = adapter.finish(1, collected)
    assert result.error_kind == "auth"
    assert result.error is not None and "IAM role" in result.error


def test_successful_run_mentioning_auth_in_a_tool_result_is_not_an_auth_failure() -> None:
    adapter = ClaudeCodeAdapter()
    collected = Collected()
    line = (
        '{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t",'
        '"content":"curl: 401 Unauthorized","is_error":true}]}}'
    )
    collected.absorb(adapter.parse_line(line))
    collected.absorb(adapter.parse_line((SAMPLES / "success.jsonl").read_text().splitlines()[-1]))

    assert adapter.finish(0, collected).success


def test_garbage_lines_become_readable_lines_and_never_raise() -> None:
    logs, collected, result = replay("garbage.jsonl", 0)

    texts = [line.content for line in logs if line.type == "text"]
    assert texts[0] == "npm WARN config production Use `--omit=dev` instead."
    assert '{"type":"assistant","message":{"content":[{"type":"text","text":"half a line' in texts
    assert "[1, 2, 3]" in texts and '"just a string"' in texts
    # An event type the adapter does not know: its name and a short summary, not its JSON.
    assert "mystery event: payload.x=1" in [line.content for line in logs if line.type == "system"]
    assert "conversation compacted (auto, 150000 tokens before)" in [line.content for line in logs]
    assert "[image]\nscreenshot taken" in [line.content for line in logs]
    assert not any("Hel" == line.content for line in logs)
    assert collected.cost_usd is None  # "free" is not a cost
    assert result.success and result.summary == "ok"
    assert result.input_tokens is None


def test_unknown_system_subtype_and_thinking_are_readable() -> None:
    adapter = ClaudeCodeAdapter()
    [hook] = adapter.parse_line(
        '{"type":"system","subtype":"hook_response","hook_name":"SessionStart","exit_code":0,'
        '"output":{"a":1},"session_id":"s","uuid":"u"}'
    ).logs
    assert (hook.type, hook.content) == ("system", "system hook_response: hook_name=SessionStart, exit_code=0, output.a=1")
    [progress] = adapter.parse_line('{"type":"tool_progress","tool_name":"Bash","data":{"lines":[1]}}').logs
    assert progress.content == "tool_progress event: tool_name=Bash, data=…"
    [thinking] = adapter.parse_line(
        '{"type":"assistant","message":{"model":"m","content":[{"type":"thinking","thinking":"Hmm."}]}}'
    ).logs
    assert (thinking.type, thinking.content) == ("thinking", "Hmm.")


def test_usage_limit_events() -> None:
    adapter = ClaudeCodeAdapter()
    event = ('{"type":"rate_limit_event","rate_limit_info":{"status":"%s","resetsAt":1796205482,'
             '"rateLimitType":"five_hour","isUsingOverage":false},"uuid":"u","session_id":"s"}')

    allowed = adapter.parse_line(event % "allowed_warning")
    assert [(line.type, line.content) for line in allowed.logs] == [
        ("system", "usage limit allowed_warning (five_hour), resets at 1796205482")]
    assert allowed.rate_limited is None
    rejected = adapter.parse_line(event % "rejected")
    assert rejected.logs[0].type == "retry" and rejected.rate_limited == rejected.logs[0].content


def test_no_result_event() -> None:
    adapter = ClaudeCodeAdapter()
    collected = Collected()
    collected.add_stderr("Segmentation fault")

    assert adapter.finish(139, collected).error == "agent exited with code 139: Segmentation fault"
    assert adapter.finish(-9, Collected()).error == "agent was killed by SIGKILL"
    assert adapter.finish(0, Collected()).error == "agent exited without reporting a result"


def test_plain_auth_message_fails_even_with_exit_zero() -> None:
    adapter = ClaudeCodeAdapter()
    collected = Collected()
    collected.absorb(adapter.parse_line("Invalid API key · Please run /login"))

    result = adapter.finish(0, collected)
    assert result.error_kind == "auth"


def test_long_lines_are_truncated() -> None:
    adapter = ClaudeCodeAdapter()
    text = "x" * 20000
    line = '{"type":"assistant","message":{"content":[{"type":"text","text":"' + text + '"}]}}'

    [log] = adapter.parse_line(line).logs
    assert len(log.content) == 8000


def test_command_line() -> None:
    adapter = create_adapter("claude")
    assert adapter is not None and adapter.name == "claude-code"

    assert adapter.build_command(context(resume_session_id="abc")) == [
        "/opt/claude", "-p", "Fix it", "--output-format", "stream-json", "--verbose",
        "--permission-mode", "bypassPermissions", "--max-turns", "12",
        "--model", "claude-opus-4-1", "--resume", "abc",
    ]
    assert adapter.session_dirs == (".claude/projects",)
    assert create_adapter("codex-unknown") is None


def test_environment_as_root_and_as_the_pod_user() -> None:
    adapter = ClaudeCodeAdapter()
    as_pod = adapter.environment(context())
    as_root = adapter.environment(context(as_root=True))

    # The CLI refuses bypassPermissions as root unless told it is in a sandbox.
    assert "IS_SANDBOX" not in as_pod and as_root["IS_SANDBOX"] == "1"
    for env in (as_pod, as_root):
        assert env["CLAUDE_CONFIG_DIR"] == "/workspace/home/.claude"
        assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
        assert env["DISABLE_TELEMETRY"] == "1"
        assert "ANTHROPIC_DEFAULT_HAIKU_MODEL" not in env


def test_bedrock_keeps_every_request_on_the_chosen_model() -> None:
    model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    ctx = context(model=model, env={"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "us-east-1"})
    adapter = ClaudeCodeAdapter()

    assert adapter.build_command(ctx)[-2:] == ["--model", model]
    env = adapter.environment(ctx)
    assert env["ANTHROPIC_DEFAULT_HAIKU_MODEL"] == model and env["ANTHROPIC_SMALL_FAST_MODEL"] == model
    assert "ANTHROPIC_API_KEY" not in env
