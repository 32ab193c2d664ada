"""The runner's channel: `POST /api/internal/tasks/:id/events` (repo tasks) and
`/api/internal/workflow-runs/:id/events` (runs of standalone tasks), each with its per-attempt token;
and beside each, the agent's saved sessions (`.../sessions/:sessionId`, chalicelib.services.sessions)."""
from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.core.roles import PUBLIC
from chalicelib.core.schemas import RUNNER_EVENT
from chalicelib.core.states import ExecutionKind
from chalicelib.services import runner_channel, sessions, warm_pods
from chalicelib.services.sessions import BINARY

from .auth import token_of
from .http import body_of, params_of, route

bp = Blueprint(__name__)


@route(bp, "/api/internal/tasks/{task_id}/events", methods=["POST"], role=PUBLIC, body=RUNNER_EVENT)
def runner_event(task_id: str) -> dict[str, Any]:
    request = bp.current_request
    return runner_channel.handle(ExecutionKind.REPO_TASK, task_id, token_of(request), body_of(request))


@route(bp, "/api/internal/workflow-runs/{run_id}/events", methods=["POST"], role=PUBLIC, body=RUNNER_EVENT)
def run_runner_event(run_id: str) -> dict[str, Any]:
    """The runner's channel for a workflow run"""
    request = bp.current_request
    return runner_channel.handle(ExecutionKind.RUN, run_id, token_of(request), body_of(request))


@route(bp, "/api/internal/warm-pods/{pod_id}/claim", methods=["POST"], role=PUBLIC)
def warm_pod_claim(pod_id: str) -> dict[str, Any]:
    """A warm runner asks for work: the attempt handed to it, once, or {assigned: false}"""
    return warm_pods.claim(pod_id, token_of(bp.current_request))


# ---- saved agent sessions: where to put or get an archive, and the local store's links ------


# `channel`: `tasks` (a repo task's attempt) or `workflow-runs` (a run's), as for the events.
@route(bp, "/api/internal/{channel}/{owner_id}/sessions/{session_id}/upload", methods=["POST"], role=PUBLIC)
def session_upload(channel: str, owner_id: str, session_id: str) -> dict[str, Any]:
    """Where the runner puts its agent's session: {url, headers} for a PUT"""
    return sessions.upload_target(channel, owner_id, session_id, token_of(bp.current_request))


@route(bp, "/api/internal/{channel}/{owner_id}/sessions/{session_id}/download", methods=["POST"], role=PUBLIC)
def session_download(channel: str, owner_id: str, session_id: str) -> dict[str, Any]:
    """Where the runner gets a saved session: {url, headers} for a GET; 404 when none was saved"""
    return sessions.download_target(channel, owner_id, session_id, token_of(bp.current_request))


@route(bp, "/api/internal/{channel}/{owner_id}/sessions/{session_id}", methods=["PUT"], role=PUBLIC, content_types=[BINARY],
       status=204)
def session_put(channel: str, owner_id: str, session_id: str) -> Response:
    """Local mode's upload link (signed; on AWS the link is S3's)"""
    request = bp.current_request
    sessions.put_archive(channel, owner_id, session_id, params_of(request), request.raw_body or b"")
    return Response(body="", status_code=204)


@route(bp, "/api/internal/{channel}/{owner_id}/sessions/{session_id}", methods=["GET"], role=PUBLIC)
def session_get(channel: str, owner_id: str, session_id: str) -> Response:
    """Local mode's download link (signed; on AWS the link is S3's)"""
    data = sessions.get_archive(channel, owner_id, session_id, params_of(bp.current_request))
    return Response(body=data, status_code=200, headers={"Content-Type": BINARY})
