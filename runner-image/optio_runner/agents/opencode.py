"""OpenCode (`opencode run --format json`, 1.18): one event per line, each with the session id.

A run is a series of steps (step_start ... step_finish); a step's text, reasoning and tool parts
arrive as they complete, and step_finish carries that step's cost and tokens (this run's calls
only, on a resume too), so the running cost is known while the agent works. error carries a named
error (ProviderAuthError, APIError with the HTTP status, ...). The stream names no model; there is
no turn limit flag.

The adapter writes OpenCode's global config ($XDG_CONFIG_HOME/opencode/opencode.json under the
agent's HOME): every tool allowed, no updates, no sharing, no snapshots (git keeps the work). When
the secret OPENAI_BASE_URL is set, models without a provider (or "openai/...") go to a custom
provider at that URL through the OpenAI Responses API, with the bundled "@ai-sdk/openai" package
(nothing is installed at run time) and the key from OPENAI_API_KEY. OpenCode has no prices for
such a provider's models and says $0; the adapter reports the cost as unknown instead.

Sessions live in OpenCode's database under $XDG_DATA_HOME/opencode, each bound to the directory it
ran in; a resume in a fresh workspace first points the restored session at the new checkout (with
OpenCode's own `db` command), or OpenCode would run it in the old, vanished directory and wait
forever for it to finish.
"""

from __future__ import annotations

import json
import os
from typing import Any

from optio_runner.agents.base import AdapterDefaults, AgentContext, AgentResult, Collected, ParsedLine
from optio_runner.agents.parsing import amount, compact, count, json_object, matching, nonempty
from optio_runner.agents.verdict import verdict
from optio_runner.connections import opencode_servers
from optio_runner.loglines import log_line, truncate

MAX_SUMMARY = 4000
MAX_TOOL_INPUT = 2000
MAX_TOOL_OUTPUT = 4000
MAX_EVENT_SUMMARY = 300
AUTH_MARKERS = (
    "providerautherror",
    "invalid api key",
    "invalid x-api-key",
    "incorrect api key",
    "authentication_error",
    "401 unauthorized",
    "no api key",
)
RATE_STATUSES = (429, 503, 529)
REJECTED = "rejected permission"
# The secrets that route OpenAI models to a gateway (documented in the README's "Agents").
BASE_URL_SECRET = "OPENAI_BASE_URL"
KEY_SECRET = "OPENAI_API_KEY"
PROVIDER_ID = "openai-gateway"
# The gateway's model when the task names none.
DEFAULT_GATEWAY_MODEL = "gpt-5"
CONFIG_FILE = ".config/opencode/opencode.json"
DATA_DIR = ".local/share/opencode"
# Runs `opencode db <sql>` (pointing the restored session at this checkout), then the CLI.
RESUME_SCRIPT = (
    'binary=$1 sql=$2; shift 2\n'
    '"$binary" db "$sql" >/dev/null || echo "optio: could not move the restored session here" >&2\n'
    'exec "$binary" "$@"\n'
)


class OpenCodeAdapter(AdapterDefaults):
    name = "opencode"
    default_binary = "opencode"
    session_dirs: tuple[str, ...] = (DATA_DIR,)

    def __init__(self) -> None:
        self._model: str | None = None
        self._gateway_model: str | None = None
        self._cost = 0.0
        self._input_tokens = 0
        self._output_tokens = 0
        self._steps = 0
        self._last_text: str | None = None
        self._failure: str | None = None

    def build_command(self, ctx: AgentContext) -> list[str]:
        self._gateway_model = _gateway_model(ctx.model)
        model = f"{PROVIDER_ID}/{self._gateway_model}" if self._gateway_model else ctx.model
        # What the CLI asks the API for: the model id after the provider.
        self._model = model.split("/", 1)[-1] if model else None
        # --auto approves whatever the config does not deny: nobody is there to answer a prompt,
        # and the pod (or local mode's workspace) is the sandbox. It works as root too.
        argv = ["run", "--format", "json", "--thinking", "--auto"]
        if model:
            argv += ["--model", model]
        if ctx.resume_session_id:
            argv += ["--session", ctx.resume_session_id]
        # OpenCode joins its message arguments with spaces, quoting any that contain one: words
        # come back as the prompt itself, and after "--" none is taken for an option.
        argv += ["--", *ctx.prompt.split(" ")]
        if not ctx.resume_session_id:
            return [ctx.binary, *argv]
        sql = (f"UPDATE session SET directory = {_sql_text(str(ctx.work_dir))} "
               f"WHERE id = {_sql_text(ctx.resume_session_id)}")
        return ["sh", "-c", RESUME_SCRIPT, "opencode-resume", ctx.binary, sql, *argv]

    def environment(self, ctx: AgentContext) -> dict[str, str]:
        # Configuration and sessions under the agent's HOME whatever the task's variables say:
        # config_files and session_dirs are relative to it.
        return {
            "XDG_CONFIG_HOME": str(ctx.home / ".config"),
            "XDG_DATA_HOME": str(ctx.home / ".local/share"),
            "XDG_STATE_HOME": str(ctx.home / ".local/state"),
            "XDG_CACHE_HOME": str(ctx.home / ".cache"),
        }

    def config_files(self, ctx: AgentContext) -> dict[str, str]:
        config: dict[str, Any] = {"permission": "allow", "autoupdate": False, "share": "disabled",
                                  "snapshot": False}
        model = self._gateway_model or _gateway_model(ctx.model)
        if model:
            config["provider"] = {PROVIDER_ID: {
                "npm": "@ai-sdk/openai",
                "name": f"OpenAI API at {BASE_URL_SECRET}",
                "options": {"baseURL": os.environ[BASE_URL_SECRET].strip(), "apiKey": f"{{env:{KEY_SECRET}}}"},
                "models": {model: {"name": model}},
            }}
            config["model"] = f"{PROVIDER_ID}/{model}"
        if ctx.mcp_servers:
            config["mcp"] = opencode_servers(ctx.mcp_servers)
        return {CONFIG_FILE: json.dumps(config, indent=2) + "\n"}

    def parse_line(self, line: str) -> ParsedLine:
        if not line.strip():
            return ParsedLine()
        event = json_object(line)
        if event is None:
            return ParsedLine(logs=[log_line("text", line)], auth_failure=matching(line, AUTH_MARKERS))
        parsed = ParsedLine(session_id=nonempty(event.get("sessionID")), model=self._model)
        part = event.get("part")
        part = part if isinstance(part, dict) else {}
        kind = str(event.get("type"))
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
            parsed.logs.append(log_line("system", f"{kind}: {_summary(event)}"))
        return parsed

    def finish(self, exit_code: int, collected: Collected) -> AgentResult:
        common: dict[str, Any] = {
            "model": self._model,
            "session_id": collected.session_id,
            "summary": truncate(self._last_text, MAX_SUMMARY) if self._last_text else None,
        }
        if self._steps:
            common.update(cost_usd=self._known_cost(), input_tokens=self._input_tokens,
                          output_tokens=self._output_tokens)
        # OpenCode exits 0 after a session error: the error event is what says the run failed.
        return verdict(exit_code, collected, common, auth_markers=AUTH_MARKERS,
                       key_hint=f"the API key secret of the model's provider ({KEY_SECRET}, ANTHROPIC_API_KEY, ...)",
                       reported_error=self._failure, finished=bool(self._steps),
                       unfinished="agent exited without finishing a step")

    def _known_cost(self) -> float | None:
        return None if self._gateway_model else self._cost

    def _tool(self, part: dict[str, Any], parsed: ParsedLine) -> None:
        tool = str(part.get("tool"))
        state = part.get("state")
        state = state if isinstance(state, dict) else {}
        tool_input = state.get("input")
        tool_input = tool_input if isinstance(tool_input, dict) else {}
        if tool == "invalid":
            # The model called a tool OpenCode does not offer (or the config denies).
            parsed.logs.append(log_line("error", f"unavailable tool {tool_input.get('tool')}: "
                                                 f"{tool_input.get('error') or state.get('output')}"))
            return
        parsed.logs.append(log_line("tool_use", f"{tool}: {truncate(compact(tool_input), MAX_TOOL_INPUT)}"))
        if state.get("status") == "error":
            error = str(state.get("error"))
            if REJECTED in error.lower():
                parsed.permission_denied = f"{tool}: {error}"
                parsed.logs.append(log_line("permission", f"{tool} refused: {error}"))
            else:
                parsed.logs.append(log_line("error", f"{tool} failed: {error}"))
            return
        output = truncate(str(state.get("output") or ""), MAX_TOOL_OUTPUT)
        metadata = state.get("metadata")
        exit_code = metadata.get("exit") if isinstance(metadata, dict) else None
        if isinstance(exit_code, int) and exit_code != 0:
            parsed.logs.append(log_line("error", f"exit {exit_code}: {output}".rstrip()))
        else:
            parsed.logs.append(log_line("tool_result", output))

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
        parsed.cost_usd = self._known_cost()
        cost = "cost unknown" if parsed.cost_usd is None else f"${self._cost:.4f} so far"
        parsed.logs.append(log_line("system", f"step {self._steps} finished ({part.get('reason')}), {cost}"))

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
        if status in RATE_STATUSES:
            parsed.rate_limited = f"{self._failure} (HTTP {status})"


def _gateway_model(model: str | None) -> str | None:
    """The model to send to the OPENAI_BASE_URL gateway, or None when there is no gateway or the
    task names another provider's model."""
    if not os.environ.get(BASE_URL_SECRET, "").strip():
        return None
    if not model:
        return DEFAULT_GATEWAY_MODEL
    provider, _, name = model.rpartition("/")
    return name if provider in ("", "openai", PROVIDER_ID) and name else None


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _summary(event: dict[str, Any]) -> str:
    """An event the adapter has no words for, in a line: its scalar fields, the names of the rest."""
    parts = []
    for key, value in event.items():
        if key in ("type", "timestamp", "sessionID"):
            continue
        if isinstance(value, (str, int, float, bool)) or value is None:
            parts.append(f"{key}={truncate(str(value), 80)}")
        else:
            parts.append(f"{key}=…")
    return truncate(", ".join(parts), MAX_EVENT_SUMMARY) if parts else "(no details)"
