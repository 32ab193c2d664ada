"""OpenCode (`opencode run --format json`): one event per line, each with the session id.

A run is a series of steps (step_start ... step_finish); a step's text, reasoning and tool parts
arrive as they complete, and step_finish carries that step's cost and tokens, so the running cost
is known while the agent works. error carries a named error (ProviderAuthError, APIError, ...).
The stream names no model; there is no turn limit flag.
"""

from __future__ import annotations

from typing import Any

from optio_runner.agents.base import AdapterDefaults, AgentContext, AgentResult, Collected, ParsedLine
from optio_runner.agents.parsing import amount, compact, count, json_object, matching, nonempty
from optio_runner.agents.verdict import verdict
from optio_runner.loglines import log_line, truncate

MAX_SUMMARY = 4000
MAX_TOOL_INPUT = 2000
AUTH_MARKERS = (
    "providerautherror",
    "invalid api key",
    "invalid x-api-key",
    "incorrect api key",
    "authentication_error",
    "401 unauthorized",
    "no api key",
)


class OpenCodeAdapter(AdapterDefaults):
    name = "opencode"
    default_binary = "opencode"

    def __init__(self) -> None:
        self._model: str | None = None
        self._cost = 0.0
        self._input_tokens = 0
        self._output_tokens = 0
        self._steps = 0
        self._last_text: str | None = None
        self._failure: str | None = None

    def build_command(self, ctx: AgentContext) -> list[str]:
        self._model = ctx.model
        argv = [ctx.binary, "run", "--format", "json", "--thinking"]
        if ctx.model:
            argv += ["--model", ctx.model]  # provider/model, e.g. anthropic/claude-sonnet-4-5
        if ctx.resume_session_id:
            argv += ["--session", ctx.resume_session_id]
        return [*argv, ctx.prompt]

    def parse_line(self, line: str) -> ParsedLine:
        if not line.strip():
            return ParsedLine()
        event = json_object(line)
        if event is None:
            return ParsedLine(logs=[log_line("text", line)], auth_failure=matching(line, AUTH_MARKERS))
        parsed = ParsedLine(session_id=nonempty(event.get("sessionID")), model=self._model)
        part = event.get("part")
        part = part if isinstance(part, dict) else {}
        kind = event.get("type")
        if kind == "text":
            content = str(part.get("text", ""))
            self._last_text = content.strip() or self._last_text
            parsed.logs.append(log_line("text", content))
        elif kind == "reasoning":
            parsed.logs.append(log_line("thinking", str(part.get("text", ""))))
        elif kind == "tool_use":
            self._tool(part, parsed)
        elif kind == "step_finish":
            self._step_finish(part, parsed)
        elif kind == "error":
            self._error(event.get("error"), parsed)
        elif kind != "step_start":
            parsed.logs.append(log_line("system", compact(event)))
        return parsed

    def finish(self, exit_code: int, collected: Collected) -> AgentResult:
        common: dict[str, Any] = {
            "model": self._model,
            "session_id": collected.session_id,
            "summary": truncate(self._last_text, MAX_SUMMARY) if self._last_text else None,
        }
        if self._steps:
            common.update(cost_usd=self._cost, input_tokens=self._input_tokens, output_tokens=self._output_tokens)
        # OpenCode exits 0 after a session error: the error event is what says the run failed.
        return verdict(exit_code, collected, common, auth_markers=AUTH_MARKERS,
                       key_hint="the API key secret of the model's provider (e.g. ANTHROPIC_API_KEY)",
                       reported_error=self._failure, finished=bool(self._steps),
                       unfinished="agent exited without finishing a step")

    def _tool(self, part: dict[str, Any], parsed: ParsedLine) -> None:
        state = part.get("state")
        state = state if isinstance(state, dict) else {}
        tool_input = truncate(compact(state.get("input") or {}), MAX_TOOL_INPUT)
        parsed.logs.append(log_line("tool_use", f"{part.get('tool')}: {tool_input}"))
        if state.get("status") == "error":
            parsed.logs.append(log_line("error", str(state.get("error"))))
        else:
            parsed.logs.append(log_line("tool_result", str(state.get("output") or "")))

    def _step_finish(self, part: dict[str, Any], parsed: ParsedLine) -> None:
        self._steps += 1
        self._cost += amount(part.get("cost")) or 0.0
        tokens = part.get("tokens")
        tokens = tokens if isinstance(tokens, dict) else {}
        cache = tokens.get("cache")
        cache = cache if isinstance(cache, dict) else {}
        # Cached prompt tokens are input the model read too; OpenCode counts them apart.
        self._input_tokens += count(tokens.get("input")) + count(cache.get("read")) + count(cache.get("write"))
        self._output_tokens += count(tokens.get("output")) + count(tokens.get("reasoning"))
        parsed.cost_usd = self._cost
        parsed.logs.append(log_line("system", f"step {self._steps} finished ({part.get('reason')}), "
                                              f"${self._cost:.4f} so far"))

    def _error(self, error: object, parsed: ParsedLine) -> None:
        name, message, status = "error", compact(error), None
        if isinstance(error, dict):
            name = str(error.get("name") or name)
            data = error.get("data")
            if isinstance(data, dict):
                message = str(data.get("message") or message)
                status = data.get("statusCode")
        self._failure = f"{name}: {message}"
        parsed.logs.append(log_line("error", self._failure))
        refused = status in (401, 403)
        parsed.auth_failure = self._failure if refused else matching(self._failure, AUTH_MARKERS)
