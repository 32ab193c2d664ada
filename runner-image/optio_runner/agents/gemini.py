"""Gemini CLI (`gemini --prompt=... --output-format stream-json`): one event per line.

init names the session; message events stream the assistant's text in deltas; tool_use and
tool_result pair up by tool_id; error is a warning or an error; result closes the run with its
status and this invocation's token stats per model (a resumed session's earlier calls are not in
them). The CLI reports tokens but no cost, so the cost stays unknown, as for Codex.

The CLI is set up through its HOME: ~/.gemini/settings.json chooses API-key authentication
(GEMINI_API_KEY, and GOOGLE_GEMINI_BASE_URL for a gateway or a stand-in, both Optio secrets),
turns off telemetry, usage statistics, update checks and IDE integration, and sets the turn
limit. It files chats under ~/.gemini/tmp/<project slug>/chats, the slug registered per project
path in ~/.gemini/projects.json; each attempt works in a new path, so the adapter registers the
path under one fixed slug, and a resumed attempt finds the chats restored under it.
"""

from __future__ import annotations

import json
from typing import Any

from optio_runner.agents.base import (
    AdapterDefaults,
    AgentContext,
    AgentResult,
    Collected,
    ErrorKind,
    ParsedLine,
    describe_exit,
)
from optio_runner.agents.parsing import count, json_object, matching, nonempty
from optio_runner.agents.verdict import auth_failure, auth_result
from optio_runner.connections import gemini_servers
from optio_runner.loglines import log_line, truncate

MAX_SUMMARY = 4000
MAX_TOOL_INPUT = 2000
MAX_EVENT_SUMMARY = 300
# The project slug every attempt's checkout is registered under (see the module docstring).
PROJECT_SLUG = "optio"
AUTH_MARKERS = (
    "api key not valid",
    "api_key_invalid",
    "api key expired",
    "unauthenticated",
    "unregistered callers",
    "permission_denied",
    "401 unauthorized",
    "invalid api key",
    "please set an auth method",
    "you must specify the gemini_api_key",
)
RATE_LIMIT_MARKERS = (
    "resource_exhausted",
    "resource has been exhausted",
    "quota",
    "status 429",
    "code\":429",
    "the model is overloaded",
    "unavailable",
)
MAX_TURNS_MARKERS = ("max session turns", "maximum session turns")
# Tool errors that are refusals rather than failures: the policy engine (or a hook) said no.
REFUSALS = ("policy_violation", "sandbox_expansion_required")
# Without approval the CLI leaves its editing and shell tools out of a headless run, so a call to
# one of them comes back "not found": a refusal too, not a model's made-up tool.
GATED_TOOLS = ("write_file", "replace", "edit", "run_shell_command")
# Scalars the CLI puts on every event; an unknown event's summary leaves them out.
_NOISE_KEYS = ("type", "timestamp")


class GeminiAdapter(AdapterDefaults):
    name = "gemini"
    default_binary = "gemini"
    # The chats, and the large tool outputs the CLI moved out of them into files they point to.
    session_dirs: tuple[str, ...] = (f".gemini/tmp/{PROJECT_SLUG}/chats", f".gemini/tmp/{PROJECT_SLUG}/tool-outputs")

    def __init__(self) -> None:
        # Deltas of the assistant message being streamed, logged as one line once it is whole.
        self._streaming: list[str] = []
        self._last_message: str | None = None
        self._tools: dict[str, str] = {}
        self._max_turns = False

    def build_command(self, ctx: AgentContext) -> list[str]:
        # --approval-mode yolo: nobody is there to approve tool calls; the workspace is the
        # sandbox. --skip-trust: a headless run in an untrusted folder (every fresh checkout)
        # otherwise exits, or drops to the default mode that leaves out the editing tools.
        # --prompt=: a prompt starting with "-" must not read as an option.
        argv = [ctx.binary, f"--prompt={ctx.prompt}", "--output-format", "stream-json",
                "--approval-mode", "yolo", "--skip-trust"]
        if ctx.model:
            argv += ["--model", ctx.model]
        if ctx.resume_session_id:
            argv += ["--resume", ctx.resume_session_id]
        return argv

    def environment(self, ctx: AgentContext) -> dict[str, str]:
        return {
            # The CLI otherwise starts itself again in a child node process (to raise its heap
            # limit) under a parent that ignores SIGTERM: one process is quicker and stops when told.
            "GEMINI_CLI_NO_RELAUNCH": "true",
            # Its error reports hold the whole conversation; they stay in the attempt's HOME (the
            # directory config_files creates) instead of piling up in the machine's /tmp.
            "TMPDIR": str(ctx.home / ".gemini" / "tmp"),
        }

    def config_files(self, ctx: AgentContext) -> dict[str, str]:
        settings: dict[str, Any] = {
            # An API key rather than a Google login; needed too when GOOGLE_GEMINI_BASE_URL is
            # set, which alone selects a "gateway" mode this version rejects in a headless run.
            "security": {"auth": {"selectedType": "gemini-api-key"}},
            "privacy": {"usageStatisticsEnabled": False},
            "telemetry": {"enabled": False},
            "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False,
                        # Restored chats may be older than the CLI's cleanup age.
                        "sessionRetention": {"enabled": False}},
            "ide": {"enabled": False},
        }
        if ctx.mcp_servers:
            settings["mcpServers"] = gemini_servers(ctx.mcp_servers)
        if ctx.max_turns > 0:
            settings["model"] = {"maxSessionTurns": ctx.max_turns}
        work_dir = str(ctx.work_dir)
        return {
            ".gemini/settings.json": json.dumps(settings, indent=2) + "\n",
            ".gemini/projects.json": json.dumps({"projects": {work_dir: PROJECT_SLUG}}, indent=2) + "\n",
            # The CLI trusts a slug only when this marker names the same path.
            f".gemini/tmp/{PROJECT_SLUG}/.project_root": work_dir,
        }

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
            model = nonempty(event.get("model"))
            # "auto" lets the CLI route each turn; the models it asked for come with the result.
            if model is not None and not model.startswith("auto"):
                parsed.model = model
            parsed.logs.append(log_line("system", f"session {parsed.session_id} started (model {model})"))
        elif kind == "tool_use":
            self._tool_use(event, parsed)
        elif kind == "tool_result":
            self._tool_result(event, parsed)
        elif kind == "error":
            message = str(event.get("message"))
            severe = event.get("severity") != "warning"
            parsed.logs.append(log_line("error" if severe else "system", message))
            if severe:
                parsed.auth_failure = matching(message, AUTH_MARKERS)
                parsed.rate_limited = matching(message, RATE_LIMIT_MARKERS)
                self._max_turns = self._max_turns or matching(message, MAX_TURNS_MARKERS) is not None
        elif kind == "result":
            self._result(event, parsed)
        else:
            parsed.logs.append(log_line("system", f"{kind} event: {_summary(event)}"))
        return parsed

    def finish(self, exit_code: int, collected: Collected) -> AgentResult:
        final = collected.final
        stats = final.get("stats") if final is not None else None
        common: dict[str, Any] = {
            "model": _main_model(stats) or collected.model,
            "session_id": collected.session_id,
            "summary": truncate(self._last_message, MAX_SUMMARY) if self._last_message else None,
        }
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
            kind: ErrorKind = "max_turns" if self._max_turns else "agent_error"
            return AgentResult(success=False, error=truncate(reason, MAX_SUMMARY), error_kind=kind, **common)
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

    def _tool_use(self, event: dict[str, Any], parsed: ParsedLine) -> None:
        name = str(event.get("tool_name") or "tool")
        tool_id = event.get("tool_id")
        if isinstance(tool_id, str):
            self._tools[tool_id] = name
        parameters = event.get("parameters")
        shown = json.dumps(parameters, ensure_ascii=False) if isinstance(parameters, dict) else "{}"
        parsed.logs.append(log_line("tool_use", f"{name}: {truncate(shown, MAX_TOOL_INPUT)}"))

    def _tool_result(self, event: dict[str, Any], parsed: ParsedLine) -> None:
        tool_id = event.get("tool_id")
        name = self._tools.get(tool_id, "tool") if isinstance(tool_id, str) else "tool"
        output = event.get("output")
        if event.get("status") != "error":
            text = str(output) if isinstance(output, str) and output.strip() else "done"
            parsed.logs.append(log_line("tool_result", f"{name}: {text}"))
            return
        error = event.get("error")
        error_type = str(error.get("type")) if isinstance(error, dict) else ""
        message = error.get("message") if isinstance(error, dict) else None
        reason = str(message or output or "failed")
        if error_type in REFUSALS or (error_type == "tool_not_registered" and name in GATED_TOOLS):
            refusal = f"{name} was refused: {reason}"
            parsed.logs.append(log_line("permission", refusal))
            parsed.permission_denied = refusal
        else:
            parsed.logs.append(log_line("error", f"{name} failed ({error_type or 'error'}): {reason}"))

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
            parsed.rate_limited = matching(message, RATE_LIMIT_MARKERS)
            kind = str(error.get("type"))
            self._max_turns = self._max_turns or kind == "FatalTurnLimitedError" or (
                matching(message, MAX_TURNS_MARKERS) is not None)


def _main_model(stats: object) -> str | None:
    """The model that did most of the work: the CLI also asks small models for side answers
    (routing a turn, checking who speaks next), which the per-model stats list as well."""
    models = stats.get("models") if isinstance(stats, dict) else None
    if not isinstance(models, dict):
        return None
    used = [(count(usage.get("total_tokens")), name) for name, usage in models.items()
            if isinstance(name, str) and name and isinstance(usage, dict)]
    busiest = max(used, default=None)
    return busiest[1] if busiest is not None and busiest[0] > 0 else None


def _summary(event: dict[str, Any]) -> str:
    """An event the adapter has no words for, in a line: its scalar fields, the names of the rest."""
    parts = []
    for key, value in event.items():
        if key in _NOISE_KEYS:
            continue
        if isinstance(value, (str, int, float, bool)) or value is None:
            parts.append(f"{key}={truncate(str(value), 80)}")
        else:
            parts.append(f"{key}=…")
    return truncate(", ".join(parts), MAX_EVENT_SUMMARY) if parts else "(no details)"
