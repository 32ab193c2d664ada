"""Token hashing and the per-attempt runner tokens.

A runner token is an HMAC over (task, attempt) under a server secret: the API can verify any
attempt's token without storing it, and tell a stale attempt (409) from a forged token (401).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

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


def live_ticket(secret: str, principal_id: str, role: str, expires: int) -> str:
    """A short-lived ticket that opens a live-logs WebSocket as this principal (`GET /api/live`):
    on AWS the socket is on another host, where the session cookie does not go. Signed with the
    run-token key over a message no run or warm token signs."""
    subject = base64.urlsafe_b64encode(json.dumps([principal_id, role, expires]).encode()).decode().rstrip("=")
    return f"optio_live_{subject}_{live_ticket_mac(secret, subject)}"


def live_ticket_subject(secrets: tuple[str, ...], token: str, now_s: int) -> tuple[str, str] | None:
    """(principal id, role) of a valid, unexpired ticket signed by one of the keys; else None."""
    if not token.startswith("optio_live_"):
        return None
    # The subject is base64url, which may hold "_"; the MAC is hex, which does not.
    subject, _, mac = token.removeprefix("optio_live_").rpartition("_")
    if not any(hmac.compare_digest(live_ticket_mac(secret, subject), mac) for secret in secrets):
        return None
    try:
        principal_id, role, expires = json.loads(base64.urlsafe_b64decode(subject + "=" * (-len(subject) % 4)))
    except ValueError:
        return None
    return (str(principal_id), str(role)) if isinstance(expires, int) and expires > now_s else None


def live_ticket_mac(secret: str, subject: str) -> str:
    return hmac.new(secret.encode(), f"live:{subject}".encode(), hashlib.sha256).hexdigest()
