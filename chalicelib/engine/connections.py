"""The connections (MCP servers) one attempt's agent gets, and the secrets they need."""
from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from chalicelib.core.connections import runner_connections, secrets_of
from chalicelib.exceptions import NotFound
from chalicelib.store import connections

# The runner's input: the connections' definitions, secrets by name (runner-image's config.py).
CONNECTIONS_VARIABLE = "OPTIO_CONNECTIONS"


class ConnectionMissing(NotFound):
    """A listed connection was deleted since the definition was checked: the attempt cannot start."""


@dataclass(frozen=True)
class AgentConnections:
    # OPTIO_CONNECTIONS, or nothing when the agent gets none.
    environment: dict[str, str]
    # The secrets the agent gets: its definition's list plus what its connections name (all
    # agent secrets still when the definition lists none).
    scope: Collection[str] | None


def agent_connections(names: Sequence[str], scope: Collection[str] | None) -> AgentConnections:
    if not names:
        return AgentConnections({}, scope)
    found = connections.find_many(names)
    missing = [name for name in names if name not in found]
    if missing:
        raise ConnectionMissing(f"connection {', '.join(missing)} was deleted; the task lists it")
    given = [found[name].attribute_values for name in names]
    needed = {secret for connection in given for secret in secrets_of(connection)}
    return AgentConnections({CONNECTIONS_VARIABLE: runner_connections(given)},
                            None if scope is None else sorted({*scope, *needed}))
