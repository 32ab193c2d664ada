"""Server-side secrets the engine needs at run time."""
from __future__ import annotations

from collections.abc import Collection

from chalicelib.core.tokens import run_token_attempt
from chalicelib.settings import settings
from chalicelib.store import secrets

# Stored like the agents' keys, but Optio's own: an agent holding it could sign a forged
# "merged" delivery and complete any task.
GITHUB_WEBHOOK_SECRET = "GITHUB_WEBHOOK_SECRET"
# The identity provider's client secret likewise: an agent holding it could pose as Optio there.
SERVER_ONLY = frozenset({GITHUB_WEBHOOK_SECRET, settings.oidc_client_secret_name})


def run_token_secret() -> str:
    """The newest run-token key: the one that signs."""
    return settings.run_token_secret.newest()


def run_token_secrets() -> tuple[str, ...]:
    """Every listed run-token key, newest first: any of them verifies, so the tokens of agents
    running when the key is rotated stay good while the old key is listed."""
    return settings.run_token_secret.values()


def verified_attempt(execution_id: str, token: str) -> int | None:
    """The attempt a runner token was issued for, under any listed key; None when it is not one
    of this execution's tokens."""
    for secret in run_token_secrets():
        attempt = run_token_attempt(secret, execution_id, token)
        if attempt is not None:
            return attempt
    return None


def agent_secrets(scope: Collection[str] | None = None) -> dict[str, str]:
    """The stored secrets an agent's environment gets: the ones its definition lists (`scope`,
    a standalone task's `environment.secrets`), or all when it lists none; never Optio's own."""
    return {name: value for name, value in secrets.all_values().items()
            if name not in SERVER_ONLY and (scope is None or name in scope)}
