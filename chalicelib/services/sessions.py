"""The runner's saved sessions (`/api/internal/<channel>/:id/sessions/:sessionId/...`).

The runner asks where to put or get an archive and then moves the bytes itself: on AWS to and
from S3 through a presigned URL (the pod holds no AWS credentials), locally through a signed link
to the API's own archive route, which keeps the bytes in the data directory. One protocol for
both: `{url, headers}`, then a PUT or GET of the url with those headers.
"""
from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from chalicelib.core.sessions import (
    LINK_TTL_S,
    archive_key,
    link_expiry,
    link_is_valid,
    link_signature,
    session_id_problem,
)
from chalicelib.core.states import ExecutionKind
from chalicelib.engine.clock import utcnow
from chalicelib.engine.credentials import run_token_secret, run_token_secrets, verified_attempt
from chalicelib.exceptions import (
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    ValidationFailed,
)
from chalicelib.settings import settings
from chalicelib.store import executions
from chalicelib.store.sessions import LocalSessions, S3Sessions, session_store

BINARY = "application/octet-stream"
# The runner refuses to save more (optio_runner.sessions.MAX_ARCHIVE_BYTES); this is the API's own
# bound on what its local archive route accepts.
MAX_ARCHIVE_BYTES = 64 * 1024 * 1024


def upload_target(channel: str, owner_id: str, session_id: str, token: str | None) -> dict[str, Any]:
    """Where the current attempt puts its session's archive."""
    attempt = _authorized(channel, owner_id, token)
    if attempt != _current_attempt(channel, owner_id):
        raise Conflict("this attempt is no longer current")
    return _target("PUT", channel, owner_id, _checked(session_id), {"Content-Type": BINARY})


def download_target(channel: str, owner_id: str, session_id: str, token: str | None) -> dict[str, Any]:
    """Where an attempt of the same owner gets a saved session; 404 when none was saved."""
    _authorized(channel, owner_id, token)
    if not session_store().exists(archive_key(channel, owner_id, _checked(session_id))):
        raise NotFound(f"no saved session {session_id}")
    # Chalice answers a binary body only to a request that accepts it (S3 does not mind).
    return _target("GET", channel, owner_id, session_id, {"Accept": BINARY})


def put_archive(channel: str, owner_id: str, session_id: str, params: Mapping[str, str],
                body: bytes | str) -> None:
    """The local store's upload link (on AWS the runner PUTs to S3 instead)."""
    store = _local_link("PUT", channel, owner_id, session_id, params)
    data = body.encode() if isinstance(body, str) else body  # Chalice types a raw body as either
    if len(data) > MAX_ARCHIVE_BYTES:
        raise PayloadTooLarge(f"a session archive may not be larger than {MAX_ARCHIVE_BYTES} bytes")
    store.write(archive_key(channel, owner_id, session_id), data)


def get_archive(channel: str, owner_id: str, session_id: str, params: Mapping[str, str]) -> bytes:
    store = _local_link("GET", channel, owner_id, session_id, params)
    data = store.read(archive_key(channel, owner_id, session_id))
    if data is None:
        raise NotFound(f"no saved session {session_id}")
    return data


def _authorized(channel: str, owner_id: str, token: str | None) -> int:
    """The attempt of a run token of this very owner: another task's token is refused."""
    _kind(channel)
    attempt = verified_attempt(owner_id, token or "")
    if attempt is None:
        raise Unauthorized("invalid run token")
    return attempt


# The runner's channels: a repo task's attempts report under `tasks`, a run's under `workflow-runs`.
CHANNELS = {"tasks": ExecutionKind.REPO_TASK, "workflow-runs": ExecutionKind.RUN}


def _kind(channel: str) -> ExecutionKind:
    if channel not in CHANNELS:
        raise NotFound(f"no channel {channel}: sessions are kept under tasks or workflow-runs")
    return CHANNELS[channel]


def _current_attempt(channel: str, owner_id: str) -> int:
    return int(executions.get(owner_id, _kind(channel)).attempt or 0)


def _checked(session_id: str) -> str:
    problem = session_id_problem(session_id)
    if problem is not None:
        raise ValidationFailed(f"invalid session id: {problem.problem}", [problem])
    return session_id


def _target(method: str, channel: str, owner_id: str, session_id: str,
            headers: dict[str, str]) -> dict[str, Any]:
    store = session_store()
    key = archive_key(channel, owner_id, session_id)
    if isinstance(store, S3Sessions):
        return {"url": store.link(method, key, LINK_TTL_S), "headers": headers}
    expires = link_expiry(utcnow())
    query = urllib.parse.urlencode(
        {"expires": expires, "signature": link_signature(run_token_secret(), method, key, expires)})
    path = "/".join(urllib.parse.quote(part, safe="") for part in (channel, owner_id, "sessions", session_id))
    return {"url": f"{settings.api_url}/api/internal/{path}?{query}", "headers": headers}


def _local_link(method: str, channel: str, owner_id: str, session_id: str,
                params: Mapping[str, str]) -> LocalSessions:
    _kind(channel)
    store = session_store()
    if isinstance(store, S3Sessions):
        raise NotFound("sessions are kept in S3: use the URL the upload or download request gives")
    _checked(session_id)
    key = archive_key(channel, owner_id, session_id)
    if not any(link_is_valid(secret, method, key, params.get("expires", ""), params.get("signature", ""), utcnow())
               for secret in run_token_secrets()):
        raise Forbidden("the link is invalid or has expired: ask for a new one")
    return store
