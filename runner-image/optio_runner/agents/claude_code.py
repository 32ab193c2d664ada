"""Claude Code (`claude -p ... --output-format stream-json --verbose`): one JSON event per line.

Permissions: the CLI runs in `bypassPermissions` mode, so the agent edits files and runs commands
without a prompt (its default mode refuses every Write and Bash in `-p`). The attempt's workspace
is the sandbox: a fresh checkout in a throwaway pod (or directory), whose only credentials are
the task's own. As root (local mode, CI) the CLI refuses that mode unless told it is in a sandbox
(IS_SANDBOX=1).

Sessions: the CLI writes its transcript to $CLAUDE_CONFIG_DIR/projects/<cwd, encoded>/<id>.jsonl;
`--resume <id>` looks for the id in every project directory there, so a transcript restored into
a fresh HOME resumes even though each attempt's workspace (the cwd) has a different path.

Accounting: on a resume the result's total_cost_usd and modelUsage cover the whole session, while
usage and model_usage_since_last_result cover this invocation only; an attempt reports only its
own share (see _attempt_cost).
"""

from __future__ import annotations

import re
from typing import Any

from optio_runner.agents.base import (
    AdapterDefaults,
    AgentContext,
    AgentResult,
    Collected,
    ParsedLine,
    describe_exit,
)
from optio_runner.agents.parsing import amount, compact, count, json_object, matching, nonempty
from optio_runner.connections import claude_code_config
from optio_runner.loglines import log_line, truncate

MAX_SUMMARY = 4000
MAX_TOOL_INPUT = 2000
MAX_EVENT_SUMMARY = 300
AUTH_MARKERS = (
    "invalid api key",
    "please run /login",
    "authentication_error",
    "authentication_failed",
    "401 unauthorized",
    "invalid x-api-key",
    "oauth token has expired",
    # Bedrock, through the pod's IAM role.
    "unrecognizedclientexception",
    "expiredtokenexception",
    "could not load credentials",
)
# The CLI's names for API refusals that mean "come back later", and their HTTP statuses.
RATE_LIMIT_ERRORS = ("rate_limit", "overloaded")
RATE_LIMIT_STATUSES = (429, 529)
# Claude Code labels messages it writes itself (API errors, auth failures) with this model name.
SYNTHETIC_MODEL = "<synthetic>"
# The CLI's own traffic besides the model API (telemetry, error reports, update checks, feedback
# surveys): off, so it runs the same offline as on, and tells nobody about the task.
QUIET = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_AUTOUPDATER": "1",
    "CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY": "1",
}
CONFIG_DIR = ".claude"
# The attempt's connections, for --mcp-config (relative to HOME).
MCP_CONFIG = f"{CONFIG_DIR}/optio-mcp.json"
_TURN_LIMIT = re.compile(r"maximum number of turns \((\d+)\)")
# Keys of an event that say nothing to a reader of the log.
_NOISE_KEYS = frozenset({"type", "subtype", "uuid", "session_id", "parent_tool_use_id", "timestamp"})


class ClaudeCodeAdapter(AdapterDefaults):
    name = "claude-code"
    default_binary = "claude"
    session_dirs: tuple[str, ...] = (f"{CONFIG_DIR}/projects",)

    def __init__(self) -> None:
        self.ctx: AgentContext | None = None
        # Tool names by tool_use id, so a failed result can say which tool failed.
        self.tools: dict[str, str] = {}

    def build_command(self, ctx: AgentContext) -> list[str]:
        self.ctx = ctx
        argv = [
            ctx.binary,
            "-p",
            ctx.prompt,
            "--output-format",
            "stream-json",
            "--verbose",
            "--permission-mode",
            "bypassPermissions",
            "--max-turns",
            str(ctx.max_turns),
        ]
        if ctx.model:
            argv += ["--model", ctx.model]
        if ctx.resume_session_id:
            argv += ["--resume", ctx.resume_session_id]
        if ctx.mcp_servers:
            # Exactly the task's connections: none of a checked-in .mcp.json or the user's.
            argv += ["--mcp-config", str(ctx.home / MCP_CONFIG), "--strict-mcp-config"]
        budget = _budget(ctx)
        if budget is not None:
            # The CLI states its cost only when it finishes; with the budget it stops itself after
            # the call that passes it (counting this invocation's calls only, as the runner does).
            argv += ["--max-budget-usd", f"{budget:g}"]
        return argv

    def environment(self, ctx: AgentContext) -> dict[str, str]:
        env = {
            **QUIET,
            # Pinned under HOME whatever the task's variables say: session_dirs is relative to it.
            "CLAUDE_CONFIG_DIR": str(ctx.home / CONFIG_DIR),
        }
        if ctx.as_root:
            env["IS_SANDBOX"] = "1"
        if ctx.model and _bedrock(ctx):
            # The CLI's side requests use a small model; on Bedrock the pod's role may invoke only
            # the chosen model, so every request goes to it.
            env["ANTHROPIC_DEFAULT_HAIKU_MODEL"] = ctx.model
            env["ANTHROPIC_SMALL_FAST_MODEL"] = ctx.model
        return env

    def config_files(self, ctx: AgentContext) -> dict[str, str]:
        return {MCP_CONFIG: claude_code_config(ctx.mcp_servers)} if ctx.mcp_servers else {}

    def session_meta(self, collected: Collected) -> dict[str, Any]:
        """The session's cost so far, for a resume whose result lacks its own share."""
        total = amount(collected.final.get("total_cost_usd")) if collected.final else None
        if total is None:
            total = _previous_total(self.ctx)
        return {} if total is None else {"session_cost_usd": total}

    def parse_line(self, line: str) -> ParsedLine:
        if not line.strip():
            return ParsedLine()
        event = json_object(line)
        if event is None:
            # Plain output: warnings, or an error printed before streaming began.
            return ParsedLine(logs=[log_line("text", line)], auth_failure=_auth_marker(line))
        parsed = ParsedLine(session_id=nonempty(event.get("session_id")))
        kind = event.get("type")
        if kind == "system":
            _parse_system(event, parsed)
        elif kind == "assistant":
            self._parse_assistant(event, parsed)
        elif kind == "user":
            self._parse_user(event, parsed)
        elif kind == "result":
            self._parse_result(event, parsed)
        elif kind == "rate_limit_event":
            _parse_rate_limit(event, parsed)
        elif kind not in ("stream_event", "keep_alive"):
            # Partial-message deltas (stream_event) only repeat what the messages say.
            parsed.logs.append(log_line("system", f"{kind} event: {_summary(event)}"))
        return parsed

    def finish(self, exit_code: int, collected: Collected) -> AgentResult:
        final = collected.final
        common: dict[str, Any] = {
            "cost_usd": collected.cost_usd,
            "model": collected.model,
            "session_id": collected.session_id,
        }
        if final is not None:
            common.update(_tokens(final))
            result_text = final.get("result")
            if isinstance(result_text, str) and result_text.strip() and final.get("is_error") is not True:
                common["summary"] = truncate(result_text.strip(), MAX_SUMMARY)
        auth = collected.auth_failure or next(
            (line for line in collected.stderr_tail if _auth_marker(line)), None
        )
        if auth is not None:
            return AgentResult(
                success=False,
                error=f"the agent could not authenticate ({truncate(auth.strip(), 200)}); {_key_hint(self.ctx)}",
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
        if final.get("subtype") == "error_max_budget_usd":
            budget = _budget(self.ctx)
            spent = f"${collected.cost_usd:.4f}" if collected.cost_usd is not None else "its cost"
            return AgentResult(
                success=False,
                error=f"budget exceeded: the agent's cost {spent} passed the budget"
                + (f" ${budget:.2f}" if budget is not None else ""),
                error_kind="budget",
                **common,
            )
        if final.get("subtype") == "error_max_turns":
            return AgentResult(
                success=False,
                error=f"agent stopped at the maximum number of turns ({_turn_limit(final, self.ctx)})",
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

    def _parse_assistant(self, event: dict[str, Any], parsed: ParsedLine) -> None:
        message = event.get("message")
        if not isinstance(message, dict):
            return
        parsed.model = _model(message.get("model"))
        synthetic = message.get("model") == SYNTHETIC_MODEL
        for block in _blocks(message.get("content")):
            block_type = block.get("type")
            if block_type == "text":
                text = str(block.get("text", ""))
                if synthetic:
                    # The CLI's own words, e.g. the API error it gave up on.
                    parsed.logs.append(log_line("error" if event.get("error") else "text", text))
                    if parsed.auth_failure is None:
                        parsed.auth_failure = _auth_marker(text)
                else:
                    parsed.logs.append(log_line("text", text))
            elif block_type == "tool_use":
                tool_id = block.get("id")
                if isinstance(tool_id, str):
                    self.tools[tool_id] = str(block.get("name"))
                tool_input = truncate(compact(block.get("input", {})), MAX_TOOL_INPUT)
                parsed.logs.append(log_line("tool_use", f"{block.get('name')}: {tool_input}"))
            elif block_type == "thinking":
                parsed.logs.append(log_line("thinking", str(block.get("thinking", ""))))
            elif block_type == "redacted_thinking":
                parsed.logs.append(log_line("thinking", "[redacted thinking]"))
            else:
                parsed.logs.append(log_line("system", f"{block_type} block: {_summary(block)}"))
        _api_error(event.get("api_error_status"), event.get("error"), parsed)

    def _parse_user(self, event: dict[str, Any], parsed: ParsedLine) -> None:
        message = event.get("message")
        if not isinstance(message, dict):
            return
        for block in _blocks(message.get("content")):
            if block.get("type") == "tool_result":
                text = _tool_result_text(block.get("content"))
                if block.get("is_error") is True:
                    tool = self.tools.get(str(block.get("tool_use_id")), "tool")
                    parsed.logs.append(log_line("error", f"{tool} failed: {text}"))
                else:
                    parsed.logs.append(log_line("tool_result", text))
            elif block.get("type") == "text":
                parsed.logs.append(log_line("text", str(block.get("text", ""))))

    def _parse_result(self, event: dict[str, Any], parsed: ParsedLine) -> None:
        parsed.final = event
        parsed.cost_usd = _attempt_cost(event, self.ctx)
        is_error = event.get("is_error") is True
        text = event.get("result")
        if is_error and isinstance(text, str):
            parsed.auth_failure = _auth_marker(text)
        _api_error(event.get("api_error_status"), event.get("api_error_type"), parsed)
        denials = event.get("permission_denials")
        if isinstance(denials, list) and denials:
            names = sorted({str(d.get("tool_name")) for d in denials if isinstance(d, dict)})
            parsed.permission_denied = f"{', '.join(names)} refused {len(denials)} time(s)"
        facts = [str(event.get("subtype"))]
        if isinstance(event.get("num_turns"), int):
            facts.append(f"{event['num_turns']} turns")
        if parsed.cost_usd is not None:
            facts.append(f"${parsed.cost_usd:.4f}")
        if isinstance(event.get("duration_ms"), (int, float)):
            facts.append(f"{event['duration_ms'] / 1000:.1f} s")
        failed = is_error or str(event.get("subtype")).startswith("error")
        parsed.logs.append(log_line("error" if failed else "system", "result: " + ", ".join(facts)))
        if is_error and isinstance(text, str) and text.strip():
            parsed.logs.append(log_line("error", text))
        errors = event.get("errors")
        if isinstance(errors, list) and errors:
            parsed.logs.append(log_line("error", "; ".join(str(e) for e in errors)))


def _parse_system(event: dict[str, Any], parsed: ParsedLine) -> None:
    subtype = event.get("subtype")
    if subtype == "init":
        parsed.model = _model(event.get("model"))
        tools = event.get("tools")
        tool_count = len(tools) if isinstance(tools, list) else 0
        mode = event.get("permissionMode")
        parsed.logs.append(
            log_line(
                "system",
                f"session {parsed.session_id} started (model {parsed.model}, {tool_count} tools"
                + (f", permission mode {mode})" if mode else ")") + _mcp_status(event.get("mcp_servers")),
            )
        )
    elif subtype == "api_retry":
        status = event.get("error_status")
        error = event.get("error")
        delay = amount(event.get("retry_delay_ms"))
        wait = f" in {delay / 1000:.1f} s" if delay is not None else ""
        parsed.logs.append(
            log_line(
                "retry",
                f"API call failed ({status or 'no status'}: {error or 'unknown error'}); retry "
                f"{event.get('attempt')} of {event.get('max_retries')}{wait}",
            )
        )
        _api_error(status, error, parsed)
    elif subtype == "permission_denied":
        tool = event.get("tool_name") or "a tool"
        message = str(event.get("message") or f"{tool} was refused")
        parsed.logs.append(log_line("permission", f"{tool} refused: {message}"))
        parsed.permission_denied = f"{tool}: {message}"
    elif subtype == "compact_boundary":
        meta = event.get("compact_metadata")
        meta = meta if isinstance(meta, dict) else {}
        parsed.logs.append(
            log_line(
                "system",
                f"conversation compacted ({meta.get('trigger', 'auto')}, "
                f"{meta.get('pre_tokens', '?')} tokens before)",
            )
        )
    else:
        parsed.logs.append(log_line("system", f"system {subtype}: {_summary(event)}"))


def _mcp_status(servers: object) -> str:
    """The connections' MCP servers as the CLI started them ("connected", "failed", ...): a server
    that failed to start is otherwise silent, its tools simply missing."""
    if not isinstance(servers, list) or not servers:
        return ""
    named = [f"{s.get('name')} ({s.get('status')})" for s in servers if isinstance(s, dict)]
    return "; MCP servers: " + ", ".join(named)


def _parse_rate_limit(event: dict[str, Any], parsed: ParsedLine) -> None:
    """A subscription's usage limit (claude.ai login): "rejected" means no call gets through until
    it resets."""
    info = event.get("rate_limit_info")
    info = info if isinstance(info, dict) else {}
    status = info.get("status")
    line = f"usage limit {status}" + (f" ({info.get('rateLimitType')})" if info.get("rateLimitType") else "")
    if info.get("resetsAt"):
        line += f", resets at {info.get('resetsAt')}"
    if status == "rejected":
        parsed.rate_limited = line
    parsed.logs.append(log_line("retry" if status == "rejected" else "system", line))


def _api_error(status: object, error: object, parsed: ParsedLine) -> None:
    """What an API error the CLI reports means: a refused key (nothing it retries can succeed),
    or a rate limit / overload (a retry may)."""
    described = f"API error {status}: {error}" if error else f"API error {status}"
    if status == 401 or error == "authentication_failed":
        parsed.auth_failure = parsed.auth_failure or described
    elif status in RATE_LIMIT_STATUSES or error in RATE_LIMIT_ERRORS:
        parsed.rate_limited = described


def _attempt_cost(final: dict[str, Any], ctx: AgentContext | None) -> float | None:
    """This invocation's own cost: the CLI's per-invocation model usage when it reports it, else
    the session's total less what the session had cost before this attempt."""
    since = final.get("model_usage_since_last_result")
    if isinstance(since, dict):
        costs = [amount(usage.get("costUSD")) for usage in since.values() if isinstance(usage, dict)]
        return sum(cost for cost in costs if cost is not None)
    total = amount(final.get("total_cost_usd"))
    before = _previous_total(ctx) if ctx is not None and ctx.resume_session_id else None
    if total is None or before is None:
        return total
    return max(total - before, 0.0)


def _previous_total(ctx: AgentContext | None) -> float | None:
    meta = ctx.session_meta if ctx is not None else None
    return amount(meta.get("session_cost_usd")) if meta else None


def _budget(ctx: AgentContext | None) -> float | None:
    """The attempt's budget (OPTIO_BUDGET_USD, which the runner has checked is a positive number)."""
    raw = ctx.env.get("OPTIO_BUDGET_USD", "").strip() if ctx is not None else ""
    try:
        return float(raw) if raw else None
    except ValueError:
        return None


def _bedrock(ctx: AgentContext) -> bool:
    return ctx.env.get("CLAUDE_CODE_USE_BEDROCK", "").strip().lower() in ("1", "true")


def _key_hint(ctx: AgentContext | None) -> str:
    if ctx is not None and _bedrock(ctx):
        return "check the pod's IAM role and its Bedrock grants (AWS_REGION, the model id)"
    return "check the agent's API key secret (e.g. ANTHROPIC_API_KEY)"


def _turn_limit(final: dict[str, Any], ctx: AgentContext | None) -> str:
    if ctx is not None:
        return str(ctx.max_turns)
    # "Reached maximum number of turns (N)"
    for error in final.get("errors") or ():
        found = _TURN_LIMIT.search(str(error))
        if found:
            return found.group(1)
    return str(final.get("num_turns"))


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


def _tokens(final: dict[str, Any]) -> dict[str, int]:
    """This invocation's tokens: from its per-model usage, which covers the same calls as its cost
    (the result's usage leaves out a call cut short by the budget), else from that usage."""
    since = final.get("model_usage_since_last_result")
    if isinstance(since, dict) and since:
        models = [usage for usage in since.values() if isinstance(usage, dict)]
        return {
            "input_tokens": sum(count(usage.get(key)) for usage in models
                                for key in ("inputTokens", "cacheReadInputTokens", "cacheCreationInputTokens")),
            "output_tokens": sum(count(usage.get("outputTokens")) for usage in models),
        }
    usage = final.get("usage")
    if not isinstance(usage, dict):
        return {}
    # Cached prompt tokens are input the model read too; the API reports them separately.
    return {
        "input_tokens": count(usage.get("input_tokens"))
        + count(usage.get("cache_creation_input_tokens"))
        + count(usage.get("cache_read_input_tokens")),
        "output_tokens": count(usage.get("output_tokens")),
    }


def _summary(event: dict[str, Any]) -> str:
    """An event the adapter has no words for, in a line: its scalar fields (an object's one level
    down), the names of the rest."""
    parts = []
    for key, value in event.items():
        if key in _NOISE_KEYS:
            continue
        if _scalar(value):
            parts.append(f"{key}={value}")
        elif isinstance(value, dict) and value and all(_scalar(v) for v in value.values()):
            parts += [f"{key}.{inner}={item}" for inner, item in value.items()]
        else:
            parts.append(f"{key}=…")
    return truncate(", ".join(parts), MAX_EVENT_SUMMARY) if parts else "(no details)"


def _scalar(value: object) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None


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
