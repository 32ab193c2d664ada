"""Agent adapters by agent type; adding an agent CLI is one module and one entry here."""

from __future__ import annotations

from collections.abc import Callable

from optio_runner.agents.base import AgentAdapter
from optio_runner.agents.claude_code import ClaudeCodeAdapter
from optio_runner.agents.custom import CustomAdapter

_ADAPTERS: dict[str, Callable[[], AgentAdapter]] = {
    ClaudeCodeAdapter.name: ClaudeCodeAdapter,
    CustomAdapter.name: CustomAdapter,
}
_ALIASES = {"claude": ClaudeCodeAdapter.name}


def create_adapter(agent_type: str) -> AgentAdapter | None:
    """The adapter for an agent type or alias; None if this runner does not know it."""
    factory = _ADAPTERS.get(_ALIASES.get(agent_type, agent_type))
    return factory() if factory is not None else None
