"""Token hashing and the per-attempt runner tokens.

A runner token is an HMAC over (task, attempt) under a server secret: the API can verify any
attempt's token without storing it, and tell a stale attempt (409) from a forged token (401).
"""
from __future__ import annotations

import hashlib
import hmac

API_KEY_PREFIX = "optio_pat_"


def sha256_hex(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def run_token(secret: str, task_id: str, attempt: int) -> str:
    mac = hmac.new(secret.encode(), f"{task_id}:{attempt}".encode(), hashlib.sha256).hexdigest()
    return f"optio_run_{attempt}_{mac}"


def run_token_attempt(secret: str, task_id: str, token: str) -> int | None:
    """The attempt a token was issued for, or None when it is not a valid token for this task."""
    parts = token.split("_")
    if len(parts) != 4 or parts[:2] != ["optio", "run"] or not parts[2].isdigit():
        return None
    attempt = int(parts[2])
    return attempt if hmac.compare_digest(run_token(secret, task_id, attempt), token) else None


def warm_token(secret: str, pool: str, pod_id: str) -> str:
    """A warm runner's token: it may ask for work for its pool as itself, and nothing else. Signed
    with the run-token key, over a message no run token signs (those are `<task>:<attempt>`, an
    attempt being digits only)."""
    mac = hmac.new(secret.encode(), f"warm:{pool}:{pod_id}".encode(), hashlib.sha256).hexdigest()
    return f"optio_warm_{mac}"


def warm_token_valid(secret: str, pool: str, pod_id: str, token: str) -> bool:
    return hmac.compare_digest(warm_token(secret, pool, pod_id), token)
