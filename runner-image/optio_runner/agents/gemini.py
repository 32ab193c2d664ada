"""Gemini CLI (`gemini -p ... --output-format stream-json`): one event per line.

init names the session and model; message events stream the assistant's text in deltas;
tool_use/tool_result pair up by tool_id; error is a warning or an error; result closes the run
with its status and token stats. The CLI reports no cost and has no turn limit flag.
"""

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
from optio_runner.agents.parsing import compact, count, json_object, matching, nonempty
from optio_runner.agents.verdict import auth_failure, auth_result
from optio_runner.loglines import log_line, truncate

MAX_SUMMARY = 4000
MAX_TOOL_INPUT = 2000
AUTH_MARKERS = (
    "api key not valid",
    "api_key_invalid",
    "please set an auth method",
    "unauthenticated",
    "401 unauthorized",
    "invalid api key",
    "gemini_api_key environment variable not found",
)


class GeminiAdapter(AdapterDefaults):
    name = "gemini"
    default_binary = "gemini"

    def __init__(self) -> None:
        # Deltas of the assistant message being streamed, logged as one line once it is whole.
        self._streaming: list[str] = []
        self._last_message: str | None = None

    def build_command(self, ctx: AgentContext) -> list[str]:
        # --yolo: nobody is there to approve tool calls; the pod is the boundary.
        argv = [ctx.binary, "-p", ctx.prompt, "--output-format", "stream-json", "--yolo"]
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
            return ParsedLine(logs=[log_line("text", line)], auth_failure=matching(line, AUTH_MARKERS))
        kind = event.get("type")
        if kind == "message":
            return self._message(event)
        parsed = ParsedLine()
        self._flush(parsed)
        if kind == "init":
            parsed.session_id = nonempty(event.get("session_id"))
            parsed.model = nonempty(event.get("model"))
            parsed.logs.append(log_line("system", f"session {parsed.session_id} started (model {parsed.model})"))
        elif kind == "tool_use":
            parameters = truncate(compact(event.get("parameters") or {}), MAX_TOOL_INPUT)
            parsed.logs.append(log_line("tool_use", f"{event.get('tool_name')}: {parameters}"))
        elif kind == "tool_result":
            error = event.get("error")
            if event.get("status") == "error":
                message = error.get("message") if isinstance(error, dict) else None
                parsed.logs.append(log_line("error", str(message or event.get("output") or "tool failed")))
            else:
                parsed.logs.append(log_line("tool_result", str(event.get("output") or "")))
        elif kind == "error":
            message = str(event.get("message"))
            severe = event.get("severity") != "warning"
            parsed.logs.append(log_line("error" if severe else "system", message))
            if severe:
                parsed.auth_failure = matching(message, AUTH_MARKERS)
        elif kind == "result":
            self._result(event, parsed)
        else:
            parsed.logs.append(log_line("system", compact(event)))
        return parsed

    def finish(self, exit_code: int, collected: Collected) -> AgentResult:
        final = collected.final
        common: dict[str, Any] = {
            "model": collected.model,
            "session_id": collected.session_id,
            "summary": truncate(self._last_message, MAX_SUMMARY) if self._last_message else None,
        }
        stats = final.get("stats") if final is not None else None
        if isinstance(stats, dict):
            common.update(input_tokens=count(stats.get("input_tokens")), output_tokens=count(stats.get("output_tokens")))
        auth = auth_failure(collected, AUTH_MARKERS)
        if auth is not None:
            return auth_result(auth, "the agent's API key secret (GEMINI_API_KEY)", common)
        if final is None:
            error = describe_exit(exit_code, collected) if exit_code != 0 else "agent exited without reporting a result"
            return AgentResult(success=False, error=error, error_kind="agent_error", **common)
        if final.get("status") != "success" or exit_code != 0:
            reported = final.get("error")
            reason = str(reported.get("message")) if isinstance(reported, dict) else f"agent reported {final.get('status')}"
            if exit_code != 0:
                reason = f"{reason} ({describe_exit(exit_code, collected)})"
            return AgentResult(success=False, error=truncate(reason, MAX_SUMMARY), error_kind="agent_error", **common)
        return AgentResult(success=True, **common)

    def _message(self, event: dict[str, Any]) -> ParsedLine:
        parsed = ParsedLine()
        if event.get("role") != "assistant":
            # The CLI echoes the user's prompt; the task already shows it.
            return parsed
        content = str(event.get("content") or "")
        if event.get("delta") is True:
            self._streaming.append(content)
        else:
            self._flush(parsed)
            self._streaming.append(content)
            self._flush(parsed)
        return parsed

    def _flush(self, parsed: ParsedLine) -> None:
        message = "".join(self._streaming)
        self._streaming.clear()
        if message.strip():
            self._last_message = message.strip()
            parsed.logs.append(log_line("text", message))

    def _result(self, event: dict[str, Any], parsed: ParsedLine) -> None:
        parsed.final = event
        failed = event.get("status") != "success"
        stats = event.get("stats")
        facts = [str(event.get("status"))]
        if isinstance(stats, dict):
            facts.append(f"{count(stats.get('input_tokens'))} input tokens ({count(stats.get('cached'))} cached)")
            facts.append(f"{count(stats.get('output_tokens'))} output tokens")
            facts.append(f"{count(stats.get('tool_calls'))} tool calls")
            facts.append(f"{count(stats.get('duration_ms')) / 1000:.1f} s")
        parsed.logs.append(log_line("error" if failed else "system", "result: " + ", ".join(facts)))
        error = event.get("error")
        if failed and isinstance(error, dict):
            message = str(error.get("message"))
            parsed.logs.append(log_line("error", message))
            parsed.auth_failure = matching(message, AUTH_MARKERS)
