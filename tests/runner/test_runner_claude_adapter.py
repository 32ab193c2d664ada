"""The Claude Code adapter against recorded stream-json output."""

from __future__ import annotations

from pathlib import Path

import pytest
from optio_runner.agents import create_adapter
from optio_runner.agents.base import AgentContext, AgentResult, Collected
from optio_runner.agents.claude_code import ClaudeCodeAdapter
from optio_runner.loglines import LogLine

SAMPLES = Path(__file__).parent / "samples"


def replay(
    name: str, exit_code: int, stderr: tuple[str, ...] = ()
) -> tuple[list[LogLine], Collected, AgentResult]:
    adapter = ClaudeCodeAdapter()
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
    logs, _, result = replay("success.jsonl", 0)

    assert [line.type for line in logs] == [
        "system",
        "thinking",
        "text",
        "tool_use",
        "tool_result",
        "tool_use",
        "tool_result",
        "text",
        "system",
    ]
    assert logs[0].content.startswith("session 8f0c2a4e-5b7d-4c1e-9a3f-2d6b8e1f4a70 started")
    assert logs[3].content == 'Read: {"file_path":"/workspace/repo/README.md"}'
    assert logs[4].content == "     1→# demo\n     2→"
    assert logs[-1].content.startswith("result: success, 5 turns, $0.0456")
    assert all(line.at.endswith("Z") and "T" in line.at for line in logs)
    assert result == AgentResult(
        success=True,
        summary="Added a Usage section to the README.",
        cost_usd=0.0456,
        input_tokens=20 + 5240 + 10360,
        output_tokens=187,
        model="claude-sonnet-4-5-20250929",
        session_id="8f0c2a4e-5b7d-4c1e-9a3f-2d6b8e1f4a70",
    )


def test_success_event_with_nonzero_exit_is_a_failure() -> None:
    _, _, result = replay("success.jsonl", 1, stderr=("Error: EPIPE",))

    assert not result.success
    assert result.error_kind == "agent_error"
    assert result.error is not None and "agent exited with code 1: Error: EPIPE" in result.error


def test_max_turns_sample() -> None:
    logs, _, result = replay("error_max_turns.jsonl", 1)

    assert [line.type for line in logs] == ["system", "tool_use", "error", "system"]
    assert logs[1].content.startswith('Bash: {"command":"npm test"')
    assert not result.success
    assert result.error_kind == "max_turns"
    assert result.error == "agent stopped at the maximum number of turns (2)"
    assert (result.cost_usd, result.input_tokens, result.output_tokens) == (0.0077, 4016, 80)


def test_error_during_execution_sample() -> None:
    logs, _, result = replay("error_during_execution.jsonl", 1)

    assert logs[-1].type == "error"
    assert not result.success
    assert result.error_kind == "agent_error"
    assert result.error is not None and "overloaded_error" in result.error
    assert result.model == "claude-opus-4-1-20250805"
    assert result.summary is None


def test_auth_failure_sample() -> None:
    _, collected, result = replay("auth_failure.jsonl", 1)

    assert collected.model == "claude-sonnet-4-5-20250929"  # not the <synthetic> message's
    assert not result.success
    assert result.error_kind == "auth"
    assert result.error is not None
    assert "could not authenticate" in result.error and "ANTHROPIC_API_KEY" in result.error


@pytest.mark.parametrize("stderr_line", ["API Error: 401 Unauthorized", '{"type":"authentication_error"}'])
def test_auth_failure_on_stderr(stderr_line: str) -> None:
    _, _, result = replay("error_during_execution.jsonl", 1, stderr=(stderr_line,))

    assert result.error_kind == "auth"


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


def test_garbage_lines_become_text_and_never_raise() -> None:
    logs, collected, result = replay("garbage.jsonl", 0)

    texts = [line.content for line in logs if line.type == "text"]
    assert texts[0] == "npm WARN config production Use `--omit=dev` instead."
    assert '{"type":"assistant","message":{"content":[{"type":"text","text":"half a line' in texts
    assert "[1, 2, 3]" in texts and '"just a string"' in texts
    assert any("mystery" in line.content for line in logs if line.type == "system")
    assert any("compact_boundary" in line.content for line in logs)
    assert "[image]\nscreenshot taken" in [line.content for line in logs]
    assert not any("Hel" == line.content for line in logs)
    assert collected.cost_usd is None  # "free" is not a cost
    assert result.success and result.summary == "ok"
    assert result.input_tokens is None


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
    ctx = AgentContext(
        prompt="Fix it",
        max_turns=12,
        model="claude-opus-4-1",
        resume_session_id="abc",
        binary="/opt/claude",
        custom_command=None,
    )

    assert adapter.build_command(ctx) == [
        "/opt/claude",
        "-p",
        "Fix it",
        "--output-format",
        "stream-json",
        "--verbose",
        "--max-turns",
        "12",
        "--model",
        "claude-opus-4-1",
        "--resume",
        "abc",
    ]
    assert create_adapter("codex-unknown") is None
