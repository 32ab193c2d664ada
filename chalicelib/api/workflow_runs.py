"""`/api/workflow-runs/:runId`: runs of standalone tasks."""
from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.engine import standalone
from chalicelib.store import workflow_runs

from .http import route
from .shapes import log_page, workflow_run_json

bp = Blueprint(__name__)


@route(bp, "/api/workflow-runs/{run_id}", methods=["GET"])
def get_workflow_run(run_id: str) -> dict[str, Any]:
    """One run of a standalone task"""
    return workflow_run_json(workflow_runs.get(run_id))


@route(bp, "/api/workflow-runs/{run_id}/logs", methods=["GET"], query=("after", "limit"))
def workflow_run_logs(run_id: str) -> dict[str, Any]:
    """Log lines of a run, by sequence number"""
    workflow_runs.get(run_id)
    return log_page(bp.current_request, run_id)


@route(bp, "/api/workflow-runs/{run_id}/cancel", methods=["POST"])
def cancel_workflow_run(run_id: str) -> dict[str, Any]:
    """Cancel a queued or running run (it fails with "cancelled by user")"""
    return workflow_run_json(standalone.cancel_run(run_id))


@route(bp, "/api/workflow-runs/{run_id}/retry", methods=["POST"])
def retry_workflow_run(run_id: str) -> dict[str, Any]:
    """Queue a failed run again"""
    return workflow_run_json(standalone.retry_run(run_id))
