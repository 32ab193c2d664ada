"""Agent adapters by agent type; adding an agent CLI is one module and one entry here."""

from __future__ import annotations

from collections.abc import Callable

from optio_runner.agents.base import AgentAdapter
from optio_runner.agents.claude_code import ClaudeCodeAdapter
from optio_runner.agents.codex import CodexAdapter
from optio_runner.agents.copilot import CopilotAdapter
from optio_runner.agents.custom import CustomAdapter
from optio_runner.agents.gemini import GeminiAdapter
from optio_runner.agents.opencode import OpenCodeAdapter

_ADAPTERS: dict[str, Callable[[], AgentAdapter]] = {
    adapter.name: adapter
    for adapter in (ClaudeCodeAdapter, CodexAdapter, CopilotAdapter, GeminiAdapter, OpenCodeAdapter, CustomAdapter)
}
_ALIASES = {"claude": ClaudeCodeAdapter.name}


def create_adapter(agent_type: str) -> AgentAdapter | None:
    """A new adapter for one run of an agent type or alias; None if this runner does not know it.

    Adapters keep what they add up over a run (tokens, cost, the last message), so each run
    gets its own.
    """
    factory = _ADAPTERS.get(_ALIASES.get(agent_type, agent_type))
    return factory() if factory is not None else None
