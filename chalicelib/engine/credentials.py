"""Server-side secrets the engine needs at run time."""
from __future__ import annotations

from collections.abc import Collection

from chalicelib.settings import settings
from chalicelib.store import secrets

# Stored like the agents' keys, but Optio's own: an agent holding it could sign a forged
# "merged" delivery and complete any task.
GITHUB_WEBHOOK_SECRET = "GITHUB_WEBHOOK_SECRET"
SERVER_ONLY = frozenset({GITHUB_WEBHOOK_SECRET})


def run_token_secret() -> str:
    if not settings.run_token_secret:
        raise RuntimeError("OPTIO_RUN_TOKEN_SECRET is not set; local mode generates one on start")
    return settings.run_token_secret


def agent_secrets(scope: Collection[str] | None = None) -> dict[str, str]:
    """The stored secrets an agent's environment gets: the ones its definition lists (`scope`,
    a standalone task's `environment.secrets`), or all when it lists none; never Optio's own."""
    return {name: value for name, value in secrets.all_values().items()
            if name not in SERVER_ONLY and (scope is None or name in scope)}
