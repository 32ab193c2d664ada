"""What every agent adapter provides, and the values passed between adapters and the runner.

An adapter knows one agent CLI: how to start it, how to read its stdout one line at a time, and
how to turn everything it printed plus its exit code into the attempt's agent result. It does no
I/O itself, so it can be tested against recorded output.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from optio_runner.loglines import LogLine

ErrorKind = Literal["agent_error", "auth", "setup", "git", "max_turns", "budget"]
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


@dataclass
class ParsedLine:
    """What one stdout line means: log lines, plus any facts about the run it carries."""

    logs: list[LogLine] = field(default_factory=list)
    cost_usd: float | None = None
    session_id: str | None = None
    model: str | None = None
    # The agent's closing event, handed back to finish().
    final: dict[str, Any] | None = None
    # The text showing that the agent could not authenticate.
    auth_failure: str | None = None


@dataclass
class Collected:
    """Everything gathered while the agent ran, for the adapter's finish()."""

    cost_usd: float | None = None
    session_id: str | None = None
    model: str | None = None
    final: dict[str, Any] | None = None
    auth_failure: str | None = None
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

    def build_command(self, ctx: AgentContext) -> list[str]: ...

    def parse_line(self, line: str) -> ParsedLine: ...

    def finish(self, exit_code: int, collected: Collected) -> AgentResult: ...


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
