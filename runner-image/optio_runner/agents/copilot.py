"""GitHub Copilot CLI (`copilot --prompt=... --output-format json`): one JSON event per line.

The CLI authenticates either to GitHub (COPILOT_GITHUB_TOKEN / GH_TOKEN / GITHUB_TOKEN; GitHub
routes the model calls) or, when COPILOT_PROVIDER_BASE_URL is set, to a custom model provider
("BYOK": an OpenAI-compatible, Azure or Anthropic endpoint, COPILOT_PROVIDER_API_KEY, and a model
from COPILOT_MODEL or the task's). Both arrive as Optio secrets in the agent's environment.

Events: `assistant.message` (the agent's text; `toolRequests`), `assistant.reasoning`,
`tool.execution_start` / `tool.execution_complete` (a refused tool fails with error code
"denied"), `model.call_failure` (a refused API call, with its HTTP status),
`assistant.turn_retry`, `session.info` / `session.warning` / `session.error`, and last `result`
(session id, exit code). Streaming deltas and progress events repeat what the whole events say.

The JSON stream leaves out token usage, so the CLI writes it to a file at exit
(--usage-output-file, under the agent's HOME); on a resume those totals include the earlier
attempts' calls, so the totals saved with the session (session_meta) are taken off. Copilot bills
premium requests, not dollars: there is no cost. Prompt mode has no turn limit to pass max_turns to.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from optio_runner.agents.base import AdapterDefaults, AgentContext, AgentResult, Collected, ParsedLine
from optio_runner.agents.parsing import compact, count, json_object, matching, nonempty, strip_ansi
from optio_runner.agents.verdict import verdict
from optio_runner.connections import copilot_config
from optio_runner.loglines import LogLine, log_line, truncate

MAX_SUMMARY = 4000
MAX_TOOL_INPUT = 300
USAGE_FILE = "copilot-usage.json"
# What the CLI prints (on stderr, before any event) when it cannot sign in to GitHub.
AUTH_MARKERS = (
    "no authentication information found",
    "authentication token found but could not be validated",
    "authentication token validation failed",
    "classic pat detected",
    "not licensed to use copilot",
    "does not have copilot requests permission",
    "authentication failed with provider",
)
AUTH_STATUSES = (401, 403)
RATE_LIMIT_STATUSES = (429, 503, 529)
KEY_HINT = ("the agent's secrets: COPILOT_PROVIDER_API_KEY for a custom model provider "
            "(COPILOT_PROVIDER_BASE_URL), else a GitHub token with Copilot access "
            "(COPILOT_GITHUB_TOKEN or GH_TOKEN)")
# Events whose content another event repeats whole, or that say nothing to a reader.
QUIET = frozenset({
    "assistant.message_start", "assistant.message_delta", "assistant.reasoning_delta",
    "assistant.streaming_delta", "assistant.tool_call_delta", "assistant.turn_start",
    "assistant.turn_end", "assistant.idle", "assistant.intent", "assistant.usage",
    "model.call_start", "model.call_finished", "model.call_final_result",
    "tool.shell_output", "tool.execution_partial_result", "tool.execution_progress",
    "session.skills_loaded", "session.mcp_servers_loaded", "session.tools_updated",
    "session.background_tasks_changed", "session.idle", "user.message", "system.message",
})


class CopilotAdapter(AdapterDefaults):
    name = "copilot"
    default_binary = "copilot"
    session_dirs: tuple[str, ...] = (".copilot/session-state",)

    def __init__(self) -> None:
        self.ctx: AgentContext | None = None
        self._answer: str | None = None
        self._error: str | None = None
        # The last refused API call, said again when the CLI retries it.
        self._call_failure: str | None = None
        # The session's running totals, as the usage file says, for session_meta.
        self._session_tokens: tuple[int, int] | None = None
        # Tool names by call id, so a failed result can say which tool failed.
        self._tools: dict[str, str] = {}

    def build_command(self, ctx: AgentContext) -> list[str]:
        self.ctx = ctx
        argv = [
            ctx.binary,
            # One argument: a prompt starting with "-" is not taken for an option.
            f"--prompt={ctx.prompt}",
            "--output-format", "json",
            # Tools, paths and URLs without asking: there is nobody to ask, and the pod (or the
            # local mode's workspace) is the sandbox. The CLI allows this as root too.
            "--allow-all",
            "--no-ask-user",
            # The image pins the CLI; it must not fetch another version.
            "--no-auto-update",
            "--usage-output-file", str(ctx.home / USAGE_FILE),
        ]
        if ctx.model:
            argv += ["--model", ctx.model]
        if ctx.resume_session_id:
            argv.append(f"--resume={ctx.resume_session_id}")
        return argv

    def environment(self, ctx: AgentContext) -> dict[str, str]:
        # Configuration and session state under the agent's HOME whatever the task's variables
        # say: session_dirs is relative to it.
        return {"COPILOT_HOME": str(ctx.home / ".copilot")}

    def config_files(self, ctx: AgentContext) -> dict[str, str]:
        # The user configuration under COPILOT_HOME, as `copilot mcp add` writes it.
        return {".copilot/mcp-config.json": copilot_config(ctx.mcp_servers)} if ctx.mcp_servers else {}

    def session_meta(self, collected: Collected) -> dict[str, Any]:
        """The session's token totals so far: the next resume's usage file counts them again."""
        if self._session_tokens is None:
            return {}
        return {"input_tokens": self._session_tokens[0], "output_tokens": self._session_tokens[1]}

    def parse_line(self, line: str) -> ParsedLine:
        if not line.strip():
            return ParsedLine()
        event = json_object(line)
        if event is None:
            plain = strip_ansi(line).rstrip()
            return ParsedLine(logs=[log_line("text", plain)], auth_failure=matching(plain, AUTH_MARKERS))
        kind = str(event.get("type"))
        data = _dict(event.get("data"))
        if kind in QUIET:
            return ParsedLine()
        if kind == "assistant.message":
            return self._message(data)
        if kind == "assistant.reasoning":
            text = nonempty(data.get("content"))
            return ParsedLine(logs=[log_line("thinking", text)] if text else [])
        if kind == "tool.execution_start":
            self._tools[str(data.get("toolCallId"))] = str(data.get("toolName") or "tool")
            return ParsedLine(logs=[log_line("tool_use", _tool_use(data))])
        if kind == "tool.execution_complete":
            return self._tool_result(data)
        if kind == "model.call_failure":
            return self._call_failed(data)
        if kind == "assistant.turn_retry":
            reason = str(data.get("reason") or "error")
            after = f" after {self._call_failure}" if self._call_failure else ""
            return ParsedLine(logs=[log_line("retry", f"retrying the model call ({reason}){after}")],
                              rate_limited=f"the model API refused ({reason})" if reason == "rate_limit" else None)
        if kind == "session.error":
            return self._session_error(data)
        if kind == "session.info":
            # The retry itself is logged from assistant.turn_retry.
            if data.get("infoType") == "model_retry":
                return ParsedLine()
            what = str(data.get("infoType") or "info").replace("_", " ")
            return ParsedLine(logs=[log_line("system", f"{what}: {data.get('message') or ''}".rstrip(": "))])
        if kind == "session.warning":
            return ParsedLine(logs=[log_line("system", f"warning: {data.get('message') or compact(data)}")])
        if kind == "result":
            return self._result(event)
        if kind.startswith("subagent."):
            name = data.get("agentDisplayName") or data.get("agentName") or "sub-agent"
            return ParsedLine(logs=[log_line("system", f"{name} {kind.removeprefix('subagent.')}")])
        return ParsedLine(logs=[log_line("system", f"{kind}: {truncate(compact(data), 200)}")])

    def finish(self, exit_code: int, collected: Collected) -> AgentResult:
        input_tokens, output_tokens = self._attempt_tokens()
        common: dict[str, Any] = {
            "model": collected.model,
            "session_id": collected.session_id,
            "summary": truncate(self._answer, MAX_SUMMARY) if self._answer else None,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
        }
        return verdict(exit_code, collected, common, auth_markers=AUTH_MARKERS, key_hint=KEY_HINT,
                       reported_error=self._error if exit_code != 0 else None,
                       finished=collected.final is not None)

    def _message(self, data: dict[str, Any]) -> ParsedLine:
        text = nonempty(data.get("content"))
        logs: list[LogLine] = []
        reasoning = nonempty(data.get("reasoningText"))
        if reasoning:
            logs.append(log_line("thinking", reasoning))
        if text:
            self._answer = text
            logs.append(log_line("text", text))
        return ParsedLine(logs=logs, model=nonempty(data.get("model")))

    def _call_failed(self, data: dict[str, Any]) -> ParsedLine:
        status = data.get("statusCode")
        message = _error_message(data.get("errorMessage"))
        said = f"HTTP {status}: {message}" if status else message
        self._call_failure = truncate(said, 300)
        parsed = ParsedLine(model=nonempty(data.get("model")))
        if status in AUTH_STATUSES:
            # The CLI would retry a refused key a few times; the runner stops it on this.
            parsed.auth_failure = f"the model provider refused the key ({said})"
            parsed.logs.append(log_line("error", f"model call refused: {said}"))
        elif status in RATE_LIMIT_STATUSES:
            parsed.rate_limited = f"the model API refused with HTTP {status}"
        return parsed

    def _session_error(self, data: dict[str, Any]) -> ParsedLine:
        message = str(data.get("message") or data.get("errorType") or "the session failed")
        self._error = message
        error_type = data.get("errorType")
        return ParsedLine(
            logs=[log_line("error", message)],
            auth_failure=message if error_type == "authentication" else None,
            rate_limited=message if error_type == "rate_limit" else None,
        )

    def _tool_result(self, data: dict[str, Any]) -> ParsedLine:
        if data.get("success") is not False:
            content = _dict(data.get("result")).get("content")
            return ParsedLine(logs=[log_line("tool_result", str(content or "(no output)"))])
        error = _dict(data.get("error"))
        tool = self._tools.get(str(data.get("toolCallId")), "tool")
        message = str(error.get("message") or "it failed")
        if error.get("code") == "denied":
            return ParsedLine(logs=[log_line("permission", f"{tool} was refused: {message}")],
                              permission_denied=truncate(f"{tool}: {message}", 300))
        return ParsedLine(logs=[log_line("error", f"{tool} failed: {message}")])

    def _result(self, event: dict[str, Any]) -> ParsedLine:
        changes = _dict(_dict(event.get("usage")).get("codeChanges"))
        summary = (f"session finished with exit code {event.get('exitCode')}: "
                   f"+{count(changes.get('linesAdded'))} -{count(changes.get('linesRemoved'))} lines in "
                   f"{len(changes.get('filesModified') or [])} files")
        return ParsedLine(logs=[log_line("system", summary)], session_id=nonempty(event.get("sessionId")),
                          final=event)

    def _attempt_tokens(self) -> tuple[int | None, int | None]:
        """This attempt's own tokens: the session's totals less what they were before it."""
        totals = _usage_totals(self.ctx.home / USAGE_FILE) if self.ctx is not None else None
        if totals is None:
            return None, None
        self._session_tokens = totals
        meta = self.ctx.session_meta if self.ctx is not None and self.ctx.resume_session_id else None
        before_in = count(meta.get("input_tokens")) if meta else 0
        before_out = count(meta.get("output_tokens")) if meta else 0
        return max(totals[0] - before_in, 0), max(totals[1] - before_out, 0)


def _usage_totals(path: Path) -> tuple[int, int] | None:
    """The session's input and output tokens over all models, from the CLI's usage file."""
    try:
        usage = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    metrics = usage.get("modelMetrics") if isinstance(usage, dict) else None
    if not isinstance(metrics, dict):
        return None
    input_tokens = output_tokens = 0
    for model in metrics.values():
        tokens = model.get("usage") if isinstance(model, dict) else None
        if isinstance(tokens, dict):
            input_tokens += count(tokens.get("inputTokens"))
            output_tokens += count(tokens.get("outputTokens"))
    return input_tokens, output_tokens


def _tool_use(data: dict[str, Any]) -> str:
    name = str(data.get("toolName") or "tool")
    arguments = data.get("arguments")
    if isinstance(arguments, dict):
        shown = arguments.get("command") or arguments.get("path") or arguments.get("pattern")
        detail = str(shown) if shown else compact(arguments)
    else:
        detail = str(arguments or "")
    return f"{name}: {truncate(detail, MAX_TOOL_INPUT)}" if detail else name


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _error_message(raw: object) -> str:
    """The provider's error message: the CLI passes on the body's JSON as a string."""
    text = str(raw or "the call failed")
    try:
        body = json.loads(text)
    except ValueError:
        return truncate(text, 300)
    message = nonempty(_dict(_dict(body).get("error") or body).get("message"))
    return truncate(message or text, 300)
