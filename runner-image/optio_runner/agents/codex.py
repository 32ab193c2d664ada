"""OpenAI Codex (`codex exec --json`, 0.169): one thread event per line.

thread.started names the session; item.* events carry messages, reasoning, commands and patches;
turn.completed closes the turn with the token usage of the whole thread so far (a resumed thread's
earlier turns included), turn.failed and error say why it stopped, and an error "Reconnecting...
n/m (...)" is the CLI retrying a refused or broken model call. The stream names no model and no
cost: the model is the one the adapter asked for, else the one the session file records.

Configuration lives under $CODEX_HOME (the agent's HOME/.codex). Codex 0.169 ignores
OPENAI_BASE_URL, so when that secret is set the adapter writes a custom model provider with it as
base_url (Responses API, key from OPENAI_API_KEY) into $CODEX_HOME/config.toml. Sessions are
rollout files under $CODEX_HOME/sessions, which is all `codex exec resume <id>` needs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from optio_runner.agents.base import AdapterDefaults, AgentContext, AgentResult, Collected, ParsedLine
from optio_runner.agents.parsing import compact, count, json_object, matching, nonempty
from optio_runner.agents.verdict import verdict
from optio_runner.connections import codex_tables
from optio_runner.loglines import LogLine, log_line, truncate

MAX_SUMMARY = 4000
MAX_TOOL_INPUT = 2000
MAX_EVENT_SUMMARY = 300
AUTH_MARKERS = (
    "401 unauthorized",
    "incorrect api key",
    "invalid api key",
    "invalid_api_key",
    "missing environment variable: `openai_api_key`",
    "not logged in",
    "codex login",
)
RATE_MARKERS = ("429 too many requests", "rate_limit_exceeded", "rate limit", "overloaded", "529")
# The secrets that configure the model provider (documented in the README's "Agents").
BASE_URL_SECRET = "OPENAI_BASE_URL"
KEY_SECRET = "OPENAI_API_KEY"
PROVIDER_ID = "optio"
CODEX_DIR = ".codex"
SESSIONS_DIR = f"{CODEX_DIR}/sessions"
RETRYING = "reconnecting..."
# Events that repeat what other events say, or say nothing worth a log line.
QUIET = ("turn.started", "item.updated", "item.plan.delta")


class CodexAdapter(AdapterDefaults):
    name = "codex"
    default_binary = "codex"
    session_dirs: tuple[str, ...] = (SESSIONS_DIR,)

    def __init__(self) -> None:
        self._ctx: AgentContext | None = None
        self._model: str | None = None
        # The thread's token totals at the latest turn.completed, and before this attempt.
        self._totals: tuple[int, int] | None = None
        self._earlier = (0, 0)
        self._last_message: str | None = None
        self._failure: str | None = None

    def build_command(self, ctx: AgentContext) -> list[str]:
        self._ctx = ctx
        self._model = ctx.model
        meta = ctx.session_meta or {}
        self._earlier = (count(meta.get("input_tokens")), count(meta.get("output_tokens")))
        # The pod is the sandbox, so Codex runs without its own and never asks: its sandbox needs
        # Landlock and seccomp, which containers rarely grant, and there is nobody to approve. This
        # is also the only mode that works the same as root (local mode, CI) and as uid 1000.
        argv = [ctx.binary, "exec", "--json", "--skip-git-repo-check",
                "--dangerously-bypass-approvals-and-sandbox"]
        if ctx.model:
            argv += ["--model", ctx.model]
        if ctx.resume_session_id:
            argv += ["resume", ctx.resume_session_id]
        # After "--" a prompt starting with "-" is not taken for an option.
        return [*argv, "--", ctx.prompt]

    def environment(self, ctx: AgentContext) -> dict[str, str]:
        # Configuration and sessions under the agent's HOME whatever the task's variables say:
        # session_dirs is relative to it.
        return {"CODEX_HOME": str(ctx.home / CODEX_DIR)}

    def config_files(self, ctx: AgentContext) -> dict[str, str]:
        # Top-level keys first: TOML puts every key after a [table] header into that table.
        # Analytics off: the agent's traffic goes to its model provider only (and flushing them
        # where OpenAI is unreachable holds the exit for seconds).
        lines = ["check_for_update_on_startup = false"]
        tables = ["[analytics]", "enabled = false"]
        base_url = os.environ.get(BASE_URL_SECRET, "").strip()
        if base_url:
            # TOML basic strings take JSON's escapes.
            lines.append(f"model_provider = {json.dumps(PROVIDER_ID)}")
            tables += [
                "",
                f"[model_providers.{PROVIDER_ID}]",
                f"name = {json.dumps(f'OpenAI API at {BASE_URL_SECRET}')}",
                f"base_url = {json.dumps(base_url)}",
                f"env_key = {json.dumps(KEY_SECRET)}",
                'wire_api = "responses"',
            ]
        tables += codex_tables(ctx.mcp_servers)
        return {f"{CODEX_DIR}/config.toml": "\n".join([*lines, "", *tables, ""])}

    def session_meta(self, collected: Collected) -> dict[str, Any]:
        """The thread's token totals so far: the next resume's turn.completed counts them again."""
        totals = self._totals or self._earlier
        return {"input_tokens": totals[0], "output_tokens": totals[1]}

    def parse_line(self, line: str) -> ParsedLine:
        if not line.strip():
            return ParsedLine()
        event = json_object(line)
        if event is None:
            return ParsedLine(logs=[log_line("text", line)], auth_failure=matching(line, AUTH_MARKERS))
        parsed = ParsedLine(model=self._model)
        kind = str(event.get("type"))
        if kind == "thread.started":
            parsed.session_id = nonempty(event.get("thread_id"))
            parsed.logs.append(log_line("system", f"session {parsed.session_id} started"))
        elif kind in ("item.started", "item.completed"):
            item = event.get("item")
            if isinstance(item, dict):
                parsed.logs.extend(self._item(item, completed=kind == "item.completed", parsed=parsed))
        elif kind == "turn.completed":
            self._turn_completed(event, parsed)
        elif kind in ("turn.failed", "error"):
            self._failed(event, parsed)
        elif kind not in QUIET:
            parsed.logs.append(log_line("system", f"{kind}: {_summary(event)}"))
        return parsed

    def finish(self, exit_code: int, collected: Collected) -> AgentResult:
        common: dict[str, Any] = {
            "model": self._model or self._recorded_model(collected.session_id),
            "session_id": collected.session_id,
            "summary": truncate(self._last_message, MAX_SUMMARY) if self._last_message else None,
        }
        if self._totals is not None:
            # This attempt's own calls: a resumed thread's totals include the earlier attempts'.
            common.update(input_tokens=max(self._totals[0] - self._earlier[0], 0),
                          output_tokens=max(self._totals[1] - self._earlier[1], 0))
        return verdict(exit_code, collected, common, auth_markers=AUTH_MARKERS,
                       key_hint=f"the agent's API key secret ({KEY_SECRET})", reported_error=self._failure,
                       finished=self._totals is not None, unfinished="agent exited without completing a turn")

    def _item(self, item: dict[str, Any], completed: bool, parsed: ParsedLine) -> list[LogLine]:
        item_type = item.get("type")
        if item_type == "command_execution":
            if not completed:
                return [log_line("tool_use", f"shell: {item.get('command')}")]
            output = str(item.get("aggregated_output") or "")
            exit_code = item.get("exit_code")
            if item.get("status") == "declined":
                parsed.permission_denied = f"shell: {item.get('command')}"
                return [log_line("permission", f"shell command declined: {item.get('command')}")]
            failed = item.get("status") == "failed" or (isinstance(exit_code, int) and exit_code != 0)
            return [log_line("error" if failed else "tool_result", f"exit {exit_code}: {output}".rstrip())]
        if item_type == "mcp_tool_call":
            if not completed:
                arguments = truncate(compact(item.get("arguments") or {}), MAX_TOOL_INPUT)
                return [log_line("tool_use", f"{item.get('server')}.{item.get('tool')}: {arguments}")]
            error = item.get("error")
            if isinstance(error, dict):
                return [log_line("error", str(error.get("message")))]
            return [log_line("tool_result", truncate(compact(item.get("result")), MAX_TOOL_INPUT))]
        if not completed:
            # Messages, reasoning and patches are only worth logging once they are whole.
            return []
        if item_type == "agent_message":
            self._last_message = str(item.get("text", "")).strip() or self._last_message
            return [log_line("text", str(item.get("text", "")))]
        if item_type == "reasoning":
            return [log_line("thinking", str(item.get("text", "")))]
        if item_type == "file_change":
            if item.get("status") == "declined":
                parsed.permission_denied = f"apply_patch: {_changes(item)}"
                return [log_line("permission", f"patch declined: {_changes(item)}")]
            return [_file_change(item)]
        if item_type == "web_search":
            return [log_line("tool_use", f"web_search: {item.get('query')}")]
        if item_type == "todo_list":
            return [log_line("system", "todo: " + _todos(item.get("items")))]
        if item_type == "error":
            return [log_line("error", str(item.get("message")))]
        return [log_line("system", f"{item_type}: {_summary(item)}")]

    def _turn_completed(self, event: dict[str, Any], parsed: ParsedLine) -> None:
        usage = event.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        # OpenAI's input_tokens already include the cached ones (cached_input_tokens is a part).
        self._totals = (count(usage.get("input_tokens")), count(usage.get("output_tokens")))
        # A later turn that completes means an earlier failure was recovered from.
        self._failure = None
        parsed.logs.append(log_line(
            "system",
            f"turn completed: {self._totals[0] - self._earlier[0]} input tokens, "
            f"{self._totals[1] - self._earlier[1]} output tokens in this run "
            f"(session: {self._totals[0]} input, {count(usage.get('cached_input_tokens'))} of them cached, "
            f"{self._totals[1]} output)",
        ))

    def _failed(self, event: dict[str, Any], parsed: ParsedLine) -> None:
        error = event.get("error")
        message = str(error.get("message")) if isinstance(error, dict) else str(event.get("message") or
                                                                                  _summary(event))
        parsed.auth_failure = matching(message, AUTH_MARKERS)
        parsed.rate_limited = matching(message, RATE_MARKERS)
        if message.lower().startswith(RETRYING):
            # The CLI retries on its own; only its giving up (turn.failed) is the run's failure.
            parsed.logs.append(log_line("retry", message))
            return
        self._failure = message
        parsed.logs.append(log_line("error", message))

    def _recorded_model(self, session_id: str | None) -> str | None:
        """The model the session's rollout file says the turn ran with (the CLI's default when
        the task named none)."""
        if self._ctx is None or session_id is None:
            return None
        model = None
        for path in sorted((self._ctx.home / SESSIONS_DIR).rglob(f"rollout-*{session_id}.jsonl")):
            model = _turn_model(path) or model
        return model


def _turn_model(path: Path) -> str | None:
    model = None
    try:
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                entry = json_object(line)
                payload = entry.get("payload") if entry is not None else None
                if entry is not None and entry.get("type") == "turn_context" and isinstance(payload, dict):
                    model = nonempty(payload.get("model")) or model
    except OSError:
        return None
    return model


def _changes(item: dict[str, Any]) -> str:
    changes = item.get("changes")
    return ", ".join(
        f"{change.get('kind')} {change.get('path')}"
        for change in (changes if isinstance(changes, list) else [])
        if isinstance(change, dict)
    )


def _file_change(item: dict[str, Any]) -> LogLine:
    if item.get("status") == "failed":
        return log_line("error", f"patch failed: {_changes(item)}")
    return log_line("tool_use", f"apply_patch: {_changes(item)}")


def _todos(items: object) -> str:
    entries = items if isinstance(items, list) else []
    return "; ".join(
        f"[{'x' if entry.get('completed') else ' '}] {entry.get('text')}"
        for entry in entries
        if isinstance(entry, dict)
    )


def _summary(event: dict[str, Any]) -> str:
    """An event the adapter has no words for, in a line: its scalar fields, the names of the rest."""
    parts = []
    for key, value in event.items():
        if key in ("type", "id"):
            continue
        if isinstance(value, (str, int, float, bool)) or value is None:
            parts.append(f"{key}={truncate(str(value), 80)}")
        else:
            parts.append(f"{key}=…")
    return truncate(", ".join(parts), MAX_EVENT_SUMMARY) if parts else "(no details)"
