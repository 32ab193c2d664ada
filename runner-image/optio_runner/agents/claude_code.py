"""Claude Code (`claude -p ... --output-format stream-json --verbose`): one JSON event per line."""

from __future__ import annotations

from typing import Any

from optio_runner.agents.base import (
    AdapterDefaults,
    AgentContext,
    AgentResult,
    Collected,
    ParsedLine,
    describe_exit,
)
from optio_runner.agents.parsing import compact, json_object, matching, nonempty
from optio_runner.loglines import LogType, log_line, truncate

MAX_SUMMARY = 4000
MAX_TOOL_INPUT = 2000
AUTH_MARKERS = (
    "invalid api key",
    "please run /login",
    "authentication_error",
    "authentication_failed",
    "401 unauthorized",
    "invalid x-api-key",
    "oauth token has expired",
)
# Claude Code labels messages it writes itself (API errors, auth failures) with this model name.
SYNTHETIC_MODEL = "<synthetic>"


class ClaudeCodeAdapter(AdapterDefaults):
    name = "claude-code"
    default_binary = "claude"

    def build_command(self, ctx: AgentContext) -> list[str]:
        argv = [
            ctx.binary,
            "-p",
            ctx.prompt,
            "--output-format",
            "stream-json",
            "--verbose",
            "--max-turns",
            str(ctx.max_turns),
        ]
        if ctx.model:
            argv += ["--model", ctx.model]
        if ctx.resume_session_id:
            argv += ["--resume", ctx.resume_session_id]
        return argv

    def parse_line(self, line: str) -> ParsedLine:
        if not line.strip():
            return ParsedLine()
        event = json_object(line)
        if event is None:
            # Plain output: warnings, or an error printed before streaming began.
            return ParsedLine(logs=[log_line("text", line)], auth_failure=_auth_marker(line))
        parsed = ParsedLine(session_id=nonempty(event.get("session_id")))
        cost = event.get("total_cost_usd")
        if isinstance(cost, (int, float)) and not isinstance(cost, bool):
            parsed.cost_usd = float(cost)
        kind = event.get("type")
        if kind == "system":
            _parse_system(event, parsed)
        elif kind == "assistant":
            _parse_assistant(event, parsed)
        elif kind == "user":
            _parse_user(event, parsed)
        elif kind == "result":
            _parse_result(event, parsed)
        elif kind != "stream_event":
            # Partial-message deltas (stream_event) only repeat what the messages say.
            parsed.logs.append(log_line("system", compact(event)))
        return parsed

    def finish(self, exit_code: int, collected: Collected) -> AgentResult:
        final = collected.final
        common: dict[str, Any] = {
            "cost_usd": collected.cost_usd,
            "model": collected.model,
            "session_id": collected.session_id,
        }
        if final is not None:
            common.update(_tokens(final.get("usage")))
            result_text = final.get("result")
            if isinstance(result_text, str) and result_text.strip():
                common["summary"] = truncate(result_text.strip(), MAX_SUMMARY)
        auth = collected.auth_failure or next(
            (line for line in collected.stderr_tail if _auth_marker(line)), None
        )
        if auth is not None:
            return AgentResult(
                success=False,
                error=(
                    f"the agent could not authenticate ({truncate(auth.strip(), 200)}); "
                    "check the agent's API key secret (e.g. ANTHROPIC_API_KEY)"
                ),
                error_kind="auth",
                **common,
            )
        if final is None:
            error = (
                describe_exit(exit_code, collected)
                if exit_code != 0
                else "agent exited without reporting a result"
            )
            return AgentResult(success=False, error=error, error_kind="agent_error", **common)
        if final.get("subtype") == "error_max_turns":
            turns = final.get("num_turns")
            return AgentResult(
                success=False,
                error=f"agent stopped at the maximum number of turns ({turns})",
                error_kind="max_turns",
                **common,
            )
        if exit_code == 0 and final.get("is_error") is not True:
            return AgentResult(success=True, **common)
        return AgentResult(
            success=False,
            error=_failure_message(final, exit_code, collected),
            error_kind="agent_error",
            **common,
        )


def _parse_system(event: dict[str, Any], parsed: ParsedLine) -> None:
    subtype = event.get("subtype")
    if subtype != "init":
        parsed.logs.append(log_line("system", f"system {subtype}: {compact(event)}"))
        return
    parsed.model = _model(event.get("model"))
    tools = event.get("tools")
    tool_count = len(tools) if isinstance(tools, list) else 0
    parsed.logs.append(
        log_line(
            "system",
            f"session {parsed.session_id} started (model {parsed.model}, {tool_count} tools)",
        )
    )


def _parse_assistant(event: dict[str, Any], parsed: ParsedLine) -> None:
    message = event.get("message")
    if not isinstance(message, dict):
        return
    parsed.model = _model(message.get("model"))
    for block in _blocks(message.get("content")):
        block_type = block.get("type")
        if block_type == "text":
            text = str(block.get("text", ""))
            parsed.logs.append(log_line("text", text))
            if message.get("model") == SYNTHETIC_MODEL and parsed.auth_failure is None:
                parsed.auth_failure = _auth_marker(text)
        elif block_type == "tool_use":
            tool_input = truncate(compact(block.get("input", {})), MAX_TOOL_INPUT)
            parsed.logs.append(log_line("tool_use", f"{block.get('name')}: {tool_input}"))
        elif block_type == "thinking":
            parsed.logs.append(log_line("thinking", str(block.get("thinking", ""))))
        elif block_type == "redacted_thinking":
            parsed.logs.append(log_line("thinking", "[redacted thinking]"))
        else:
            parsed.logs.append(log_line("system", compact(block)))


def _parse_user(event: dict[str, Any], parsed: ParsedLine) -> None:
    message = event.get("message")
    if not isinstance(message, dict):
        return
    for block in _blocks(message.get("content")):
        if block.get("type") == "tool_result":
            line_type: LogType = "error" if block.get("is_error") is True else "tool_result"
            parsed.logs.append(log_line(line_type, _tool_result_text(block.get("content"))))
        elif block.get("type") == "text":
            parsed.logs.append(log_line("text", str(block.get("text", ""))))


def _parse_result(event: dict[str, Any], parsed: ParsedLine) -> None:
    parsed.final = event
    is_error = event.get("is_error") is True
    text = event.get("result")
    if is_error and isinstance(text, str):
        parsed.auth_failure = _auth_marker(text)
    facts = [str(event.get("subtype"))]
    if isinstance(event.get("num_turns"), int):
        facts.append(f"{event['num_turns']} turns")
    if parsed.cost_usd is not None:
        facts.append(f"${parsed.cost_usd:.4f}")
    if isinstance(event.get("duration_ms"), (int, float)):
        facts.append(f"{event['duration_ms'] / 1000:.1f} s")
    parsed.logs.append(log_line("error" if is_error else "system", "result: " + ", ".join(facts)))
    if is_error and isinstance(text, str) and text.strip():
        parsed.logs.append(log_line("error", text))


def _failure_message(final: dict[str, Any], exit_code: int, collected: Collected) -> str:
    text = final.get("result")
    errors = final.get("errors")
    if isinstance(text, str) and text.strip():
        reason = text.strip()
    elif isinstance(errors, list) and errors:
        reason = "; ".join(str(e) for e in errors)
    else:
        reason = f"agent reported {final.get('subtype')}"
    if exit_code != 0:
        reason = f"{reason} ({describe_exit(exit_code, collected)})"
    return truncate(reason, MAX_SUMMARY)


def _tokens(usage: object) -> dict[str, int]:
    if not isinstance(usage, dict):
        return {}

    def count(key: str) -> int:
        value = usage.get(key)
        return value if isinstance(value, int) else 0

    # Cached prompt tokens are input the model read too; the API reports them separately.
    return {
        "input_tokens": count("input_tokens")
        + count("cache_creation_input_tokens")
        + count("cache_read_input_tokens"),
        "output_tokens": count("output_tokens"),
    }


def _tool_result_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for item in content:
            if isinstance(item, dict) and item.get("type") == "text":
                parts.append(str(item.get("text", "")))
            elif isinstance(item, dict):
                parts.append(f"[{item.get('type')}]")
        return "\n".join(parts)
    return "" if content is None else compact(content)


def _blocks(content: object) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [block for block in content if isinstance(block, dict)]
    return []


def _auth_marker(line: str) -> str | None:
    return matching(line, AUTH_MARKERS)


def _model(value: object) -> str | None:
    return value if isinstance(value, str) and value and value != SYNTHETIC_MODEL else None

