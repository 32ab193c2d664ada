"""OpenAI Codex (`codex exec --json`): one thread event per line.

thread.started names the session; item.* events carry messages, reasoning, commands and patches;
turn.completed closes a turn with its token usage, turn.failed and error say why it stopped.
The stream names no model and no cost.
"""

from __future__ import annotations

from typing import Any

from optio_runner.agents.base import AdapterDefaults, AgentContext, AgentResult, Collected, ParsedLine
from optio_runner.agents.parsing import compact, count, json_object, matching, nonempty
from optio_runner.agents.verdict import verdict
from optio_runner.loglines import LogLine, log_line, truncate

MAX_SUMMARY = 4000
MAX_TOOL_INPUT = 2000
AUTH_MARKERS = (
    "401 unauthorized",
    "incorrect api key",
    "invalid api key",
    "invalid_api_key",
    "missing environment variable: `openai_api_key`",
    "not logged in",
    "codex login",
)


class CodexAdapter(AdapterDefaults):
    name = "codex"
    default_binary = "codex"

    def __init__(self) -> None:
        self._model: str | None = None
        self._input_tokens = 0
        self._output_tokens = 0
        self._turns_completed = 0
        self._last_message: str | None = None
        self._failure: str | None = None

    def build_command(self, ctx: AgentContext) -> list[str]:
        self._model = ctx.model
        # The pod is the sandbox: Codex's own sandbox needs kernel features containers rarely grant.
        argv = [ctx.binary, "exec", "--json", "--skip-git-repo-check",
                "--dangerously-bypass-approvals-and-sandbox"]
        if ctx.model:
            argv += ["--model", ctx.model]
        if ctx.resume_session_id:
            argv += ["resume", ctx.resume_session_id]
        return [*argv, ctx.prompt]

    def parse_line(self, line: str) -> ParsedLine:
        if not line.strip():
            return ParsedLine()
        event = json_object(line)
        if event is None:
            return ParsedLine(logs=[log_line("text", line)], auth_failure=matching(line, AUTH_MARKERS))
        parsed = ParsedLine(model=self._model)
        kind = event.get("type")
        if kind == "thread.started":
            parsed.session_id = nonempty(event.get("thread_id"))
            parsed.logs.append(log_line("system", f"session {parsed.session_id} started"))
        elif kind in ("item.started", "item.completed"):
            item = event.get("item")
            if isinstance(item, dict):
                parsed.logs.extend(self._item(item, completed=kind == "item.completed"))
        elif kind == "turn.completed":
            self._turn_completed(event, parsed)
        elif kind in ("turn.failed", "error"):
            self._failed(event, parsed)
        elif kind not in ("turn.started", "item.updated", "item.plan.delta"):
            parsed.logs.append(log_line("system", compact(event)))
        return parsed

    def finish(self, exit_code: int, collected: Collected) -> AgentResult:
        common: dict[str, Any] = {
            "model": self._model,
            "session_id": collected.session_id,
            "summary": truncate(self._last_message, MAX_SUMMARY) if self._last_message else None,
        }
        if self._turns_completed:
            common.update(input_tokens=self._input_tokens, output_tokens=self._output_tokens)
        return verdict(exit_code, collected, common, auth_markers=AUTH_MARKERS,
                       key_hint="the agent's API key secret (OPENAI_API_KEY)", reported_error=self._failure,
                       finished=bool(self._turns_completed), unfinished="agent exited without completing a turn")

    def _item(self, item: dict[str, Any], completed: bool) -> list[LogLine]:
        item_type = item.get("type")
        if item_type == "command_execution":
            if not completed:
                return [log_line("tool_use", f"shell: {item.get('command')}")]
            output = str(item.get("aggregated_output") or "")
            exit_code = item.get("exit_code")
            failed = item.get("status") in ("failed", "declined") or (isinstance(exit_code, int) and exit_code != 0)
            return [log_line("error" if failed else "tool_result", f"exit {exit_code}: {output}".rstrip())]
        if item_type == "mcp_tool_call":
            if not completed:
                arguments = truncate(compact(item.get("arguments") or {}), MAX_TOOL_INPUT)
                return [log_line("tool_use", f"{item.get('server')}.{item.get('tool')}: {arguments}")]
            error = item.get("error")
            if isinstance(error, dict):
                return [log_line("error", str(error.get("message")))]
            return [log_line("tool_result", compact(item.get("result")))]
        if not completed:
            # Messages, reasoning and patches are only worth logging once they are whole.
            return []
        if item_type == "agent_message":
            self._last_message = str(item.get("text", "")).strip() or self._last_message
            return [log_line("text", str(item.get("text", "")))]
        if item_type == "reasoning":
            return [log_line("thinking", str(item.get("text", "")))]
        if item_type == "file_change":
            return [_file_change(item)]
        if item_type == "web_search":
            return [log_line("tool_use", f"web_search: {item.get('query')}")]
        if item_type == "todo_list":
            return [log_line("system", "todo: " + _todos(item.get("items")))]
        if item_type == "error":
            return [log_line("error", str(item.get("message")))]
        return [log_line("system", compact(item))]

    def _turn_completed(self, event: dict[str, Any], parsed: ParsedLine) -> None:
        usage = event.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        # OpenAI's input_tokens already include the cached ones (cached_input_tokens is a part).
        self._input_tokens += count(usage.get("input_tokens"))
        self._output_tokens += count(usage.get("output_tokens"))
        self._turns_completed += 1
        # A later turn that completes means an earlier failure was recovered from.
        self._failure = None
        parsed.logs.append(log_line(
            "system",
            f"turn completed: {count(usage.get('input_tokens'))} input tokens "
            f"({count(usage.get('cached_input_tokens'))} cached), {count(usage.get('output_tokens'))} output tokens",
        ))

    def _failed(self, event: dict[str, Any], parsed: ParsedLine) -> None:
        error = event.get("error")
        message = str(error.get("message")) if isinstance(error, dict) else str(event.get("message") or compact(event))
        self._failure = message
        parsed.auth_failure = matching(message, AUTH_MARKERS)
        parsed.logs.append(log_line("error", message))


def _file_change(item: dict[str, Any]) -> LogLine:
    changes = item.get("changes")
    described = ", ".join(
        f"{change.get('kind')} {change.get('path')}"
        for change in (changes if isinstance(changes, list) else [])
        if isinstance(change, dict)
    )
    if item.get("status") == "failed":
        return log_line("error", f"patch failed: {described}")
    return log_line("tool_use", f"apply_patch: {described}")


def _todos(items: object) -> str:
    entries = items if isinstance(items, list) else []
    return "; ".join(
        f"[{'x' if entry.get('completed') else ' '}] {entry.get('text')}"
        for entry in entries
        if isinstance(entry, dict)
    )
