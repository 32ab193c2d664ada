"""`/api/workflow-runs/:runId`: runs of standalone tasks."""
from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.core.roles import MEMBER, VIEWER
from chalicelib.core.states import ExecutionKind
from chalicelib.services import standalone
from chalicelib.store import executions

from .http import route
from .shapes import event_json, log_page, workflow_run_json

bp = Blueprint(__name__)


@route(bp, "/api/workflow-runs/{run_id}", methods=["GET"], role=VIEWER)
def get_workflow_run(run_id: str) -> dict[str, Any]:
    """One run of a standalone task"""
    return workflow_run_json(executions.get(run_id, ExecutionKind.RUN))


@route(bp, "/api/workflow-runs/{run_id}/logs", methods=["GET"], role=VIEWER, query=("after", "before", "order", "limit"))
def workflow_run_logs(run_id: str) -> dict[str, Any]:
    """Log lines of a run, by sequence number"""
    executions.get(run_id, ExecutionKind.RUN)
    return log_page(bp.current_request, run_id)


@route(bp, "/api/workflow-runs/{run_id}/events", methods=["GET"], role=VIEWER)
def workflow_run_events(run_id: str) -> dict[str, Any]:
    """State transitions of a run, oldest first"""
    executions.get(run_id, ExecutionKind.RUN)
    return {"items": [event_json(e) for e in executions.events(run_id)], "nextCursor": None}


@route(bp, "/api/workflow-runs/{run_id}/cancel", methods=["POST"], role=MEMBER)
def cancel_workflow_run(run_id: str) -> dict[str, Any]:
    """Cancel a queued or running run (it fails with "cancelled by user")"""
    return workflow_run_json(standalone.cancel_run(run_id))


@route(bp, "/api/workflow-runs/{run_id}/retry", methods=["POST"], role=MEMBER)
def retry_workflow_run(run_id: str) -> dict[str, Any]:
    """Queue a failed run again"""
    return workflow_run_json(standalone.retry_run(run_id))
