"""The runner's channel: `POST /api/internal/tasks/:id/events` (repo tasks) and
`/api/internal/workflow-runs/:id/events` (runs of standalone tasks), each with its per-attempt token."""
from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.core.schemas import RUNNER_EVENT
from chalicelib.engine.reports import handle_runner_event
from chalicelib.engine.standalone_runs import handle_run_event

from .auth import token_of
from .http import body_of, route

bp = Blueprint(__name__)


@route(bp, "/api/internal/tasks/{task_id}/events", methods=["POST"], body=RUNNER_EVENT)
def runner_event(task_id: str) -> dict[str, Any]:
    request = bp.current_request
    return handle_runner_event(task_id, token_of(request), body_of(request))


@route(bp, "/api/internal/workflow-runs/{run_id}/events", methods=["POST"], body=RUNNER_EVENT)
def run_runner_event(run_id: str) -> dict[str, Any]:
    """The runner's channel for a workflow run"""
    request = bp.current_request
    return handle_run_event(run_id, token_of(request), body_of(request))
