"""What every agent adapter provides, and the values passed between adapters and the runner.

An adapter knows one agent CLI: how to start it, how to read its stdout one line at a time, and
how to turn everything it printed plus its exit code into the attempt's agent result. It does no
I/O itself, so it can be tested against recorded output.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from optio_runner.connections import McpServer
from optio_runner.loglines import LogLine

ErrorKind = Literal["agent_error", "auth", "rate_limited", "setup", "git", "max_turns", "budget"]
STDERR_TAIL_LINES = 500


class AgentConfigError(Exception):
    """The attempt's settings cannot start this agent (e.g. custom agent without a command)."""


@dataclass(frozen=True)
class AgentContext:
    prompt: str
    max_turns: int
    model: str | None
    resume_session_id: str | None
    binary: str
    custom_command: str | None
    # The agent's own HOME: a fresh directory per attempt, holding its configuration and session
    # state. The adapter's session_dirs (relative to it) are saved after the attempt and restored
    # into it before a resume.
    home: Path = Path("/nonexistent")
    # Where the agent works: the checkout, or a standalone run's scratch directory.
    work_dir: Path = Path("/nonexistent")
    # The runner runs as root (local mode, CI) rather than the pod's uid 1000; some CLIs refuse
    # their no-prompt permission mode as root unless told they are in a sandbox.
    as_root: bool = False
    # What the adapter saved with the session the last time it ran (session_meta), on a resume.
    session_meta: Mapping[str, Any] | None = None
    # The variables the agent will see (the task's secrets and the pod's), e.g. for a CLI whose
    # adapter behaves differently when they choose another provider (Claude Code on Bedrock).
    env: Mapping[str, str] = field(default_factory=dict)
    # The attempt's connections, secrets resolved: each adapter writes its CLI's MCP configuration.
    mcp_servers: tuple[McpServer, ...] = ()


@dataclass
class ParsedLine:
    """What one stdout line means: log lines, plus any facts about the run it carries."""

    logs: list[LogLine] = field(default_factory=list)
    cost_usd: float | None = None
    session_id: str | None = None
    model: str | None = None
    # The agent's closing event, handed back to finish().
    final: dict[str, Any] | None = None
    # The text showing that the agent could not authenticate: the runner stops the agent at once.
    auth_failure: str | None = None
    # A tool call the CLI refused: the attempt cannot be a success, whatever the agent says.
    permission_denied: str | None = None
    # The vendor's API refused for rate limit or overload (the CLI may still be retrying).
    rate_limited: str | None = None


@dataclass
class Collected:
    """Everything gathered while the agent ran, for the adapter's finish()."""

    cost_usd: float | None = None
    session_id: str | None = None
    model: str | None = None
    final: dict[str, Any] | None = None
    auth_failure: str | None = None
    permission_denied: str | None = None
    rate_limited: str | None = None
    stderr_tail: list[str] = field(default_factory=list)

    def absorb(self, parsed: ParsedLine) -> None:
        if parsed.cost_usd is not None:
            self.cost_usd = parsed.cost_usd
        if parsed.session_id is not None:
            self.session_id = parsed.session_id
        # The first model named is the session's main model; later ones may be sub-agents'.
        if self.model is None:
            self.model = parsed.model
        if parsed.final is not None:
            self.final = parsed.final
        if self.auth_failure is None:
            self.auth_failure = parsed.auth_failure
        if self.permission_denied is None:
            self.permission_denied = parsed.permission_denied
        # The latest one: an earlier refusal the CLI recovered from must not fail the attempt.
        if parsed.rate_limited is not None:
            self.rate_limited = parsed.rate_limited

    def add_stderr(self, line: str) -> None:
        self.stderr_tail.append(line)
        if len(self.stderr_tail) > STDERR_TAIL_LINES:
            del self.stderr_tail[0]


@dataclass(frozen=True)
class AgentResult:
    success: bool
    summary: str | None = None
    error: str | None = None
    error_kind: ErrorKind | None = None
    cost_usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    model: str | None = None
    session_id: str | None = None


class AgentAdapter(Protocol):
    name: str  # the canonical agent type, e.g. "claude-code"
    default_binary: str
    # Directories under the agent's HOME holding its session state (transcripts, session files).
    session_dirs: tuple[str, ...]

    def build_command(self, ctx: AgentContext) -> list[str]:
        """The argv; called once per run, before any line is parsed (an adapter may keep ctx)."""
        ...

    def environment(self, ctx: AgentContext) -> dict[str, str]:
        """Variables the CLI needs on top of the task's: permission switches, config locations."""
        ...

    def config_files(self, ctx: AgentContext) -> dict[str, str]:
        """Files to write under the agent's HOME before it starts (path relative to HOME: text)."""
        ...

    def session_meta(self, collected: Collected) -> dict[str, Any]:
        """What to keep with the saved session for the next resume (e.g. the session's cost so
        far, for CLIs that report a resumed session's cost as a running total)."""
        ...

    def parse_line(self, line: str) -> ParsedLine: ...

    def finish(self, exit_code: int, collected: Collected) -> AgentResult: ...


class AdapterDefaults:
    """What an adapter provides when its CLI needs nothing more: no extra variables or files, no
    session state to keep."""

    session_dirs: tuple[str, ...] = ()

    def environment(self, ctx: AgentContext) -> dict[str, str]:
        return {}

    def config_files(self, ctx: AgentContext) -> dict[str, str]:
        return {}

    def session_meta(self, collected: Collected) -> dict[str, Any]:
        return {}


def describe_exit(exit_code: int, collected: Collected) -> str:
    """'agent exited with code N' (or the killing signal) and the last thing it said on stderr."""
    if exit_code < 0:
        try:
            what = f"agent was killed by {signal.Signals(-exit_code).name}"
        except ValueError:
            what = f"agent was killed by signal {-exit_code}"
    else:
        what = f"agent exited with code {exit_code}"
    last = next((line.strip() for line in reversed(collected.stderr_tail) if line.strip()), "")
    return f"{what}: {last}" if last else what
