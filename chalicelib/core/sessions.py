"""Agent sessions kept between attempts: how they are named, and the signed links of the local
store (the local counterpart of S3's presigned URLs, so that the runner speaks one protocol).

A session is saved under its owner (a repo task, or a run of a standalone task) and the session
id the agent reported; a run token only ever names its own owner, so one task cannot reach
another's session.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime

from .validation import FieldProblem

# CLIs name sessions with UUIDs or similar; nothing that could climb out of a directory or key.
_SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
LINK_TTL_S = 900


def session_id_problem(session_id: str) -> FieldProblem | None:
    if _SESSION_ID.fullmatch(session_id) and ".." not in session_id:
        return None
    return FieldProblem("sessionId", "must be 1 to 200 letters, digits, '.', '_' or '-', starting with a "
                                     "letter or digit")


def archive_key(channel: str, owner_id: str, session_id: str) -> str:
    """Where one session's archive lives: an S3 key, or a path under the local sessions directory."""
    return f"{channel}/{owner_id}/{session_id}.tar.gz"


def link_signature(secret: str, method: str, key: str, expires: int) -> str:
    message = f"{method}\n{key}\n{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def link_expiry(now: datetime) -> int:
    return int(now.timestamp()) + LINK_TTL_S


def link_is_valid(secret: str, method: str, key: str, expires: str, signature: str, now: datetime) -> bool:
    """A local link is good for its method on its key until it expires."""
    if not expires.isdigit() or int(expires) < now.timestamp():
        return False
    return hmac.compare_digest(link_signature(secret, method, key, int(expires)), signature)
