"""`/api/tasks`: repo tasks, their lifecycle actions, history and logs."""
from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.core.schemas import (
    DEPENDENCIES,
    REORDER,
    RESTART,
    RESUME,
    SUBTASK_CREATE,
    TASK_CREATE,
    TASK_PATCH,
)
from chalicelib.core.states import TaskState
from chalicelib.engine import tasks as actions
from chalicelib.exceptions import FieldProblem, ValidationFailed
from chalicelib.store import logs, tasks

from .http import JSON, body_of, created, paging, query, route
from .shapes import event_json, log_json, status_json, task_json

bp = Blueprint(__name__)
TASK_TYPES = ("repo-task", "repo-blueprint", "standalone", "all")


def _request_body() -> Any:
    return body_of(bp.current_request)


@route(bp, "/api/tasks", methods=["POST"], body=TASK_CREATE, status=201)
def create_task() -> Response:
    return created(task_json(actions.create_task(_request_body())))


@route(bp, "/api/tasks", methods=["GET"], query=("type", "state", "repoId", "limit", "cursor"))
def list_tasks() -> dict[str, Any]:
    request = bp.current_request
    limit, cursor = paging(request)
    state, task_type = query(request, "state"), query(request, "type") or "all"
    if state is not None and state not in {s.value for s in TaskState}:
        raise ValidationFailed("invalid state", [FieldProblem("state", "is not a task state")])
    if task_type not in TASK_TYPES:
        raise ValidationFailed("invalid type", [FieldProblem("type", f"must be one of {', '.join(TASK_TYPES)}")])
    if task_type in ("repo-blueprint", "standalone"):
        return {"items": [], "nextCursor": None}
    page = tasks.list_tasks(state=state, repo_id=query(request, "repoId"), task_type="repo-task",
                            limit=limit, cursor=cursor)
    return {"items": [task_json(t) for t in page.items], "nextCursor": page.next_cursor}


@route(bp, "/api/tasks/{task_id}", methods=["GET"])
def get_task(task_id: str) -> dict[str, Any]:
    return {**task_json(tasks.get(task_id)), "subtaskStatus": status_json(actions.subtask_status(task_id))}


@route(bp, "/api/tasks/{task_id}", methods=["PATCH"], body=TASK_PATCH)
def update_task(task_id: str) -> dict[str, Any]:
    return task_json(actions.update_task(task_id, _request_body()))


@route(bp, "/api/tasks/{task_id}", methods=["DELETE"], status=204)
def delete_task(task_id: str) -> Response:
    actions.delete_task(task_id)
    return Response(body="", status_code=204, headers=JSON)


@route(bp, "/api/tasks/{task_id}/cancel", methods=["POST"])
def cancel_task(task_id: str) -> dict[str, Any]:
    return task_json(actions.cancel_task(task_id))


@route(bp, "/api/tasks/{task_id}/retry", methods=["POST"])
def retry_task(task_id: str) -> dict[str, Any]:
    return task_json(actions.retry_task(task_id))


@route(bp, "/api/tasks/{task_id}/resume", methods=["POST"], body=RESUME)
def resume_task(task_id: str) -> dict[str, Any]:
    return task_json(actions.resume_task(task_id, _request_body()))


@route(bp, "/api/tasks/{task_id}/force-restart", methods=["POST"], body=RESTART)
def force_restart(task_id: str) -> dict[str, Any]:
    return task_json(actions.force_restart(task_id, _request_body()))


@route(bp, "/api/tasks/{task_id}/force-redo", methods=["POST"])
def force_redo(task_id: str) -> dict[str, Any]:
    return task_json(actions.force_redo(task_id))


@route(bp, "/api/tasks/{task_id}/review", methods=["POST"], status=201)
def launch_review(task_id: str) -> Response:
    return created(task_json(actions.launch_review(task_id)))


@route(bp, "/api/tasks/reorder", methods=["POST"], body=REORDER)
def reorder() -> dict[str, int]:
    return actions.reorder(_request_body())


@route(bp, "/api/tasks/bulk/retry-failed", methods=["POST"])
def bulk_retry_failed() -> dict[str, int]:
    return actions.bulk_retry_failed()


@route(bp, "/api/tasks/bulk/cancel-active", methods=["POST"])
def bulk_cancel_active() -> dict[str, int]:
    return actions.bulk_cancel_active()


@route(bp, "/api/tasks/{task_id}/subtasks", methods=["GET"])
def list_subtasks(task_id: str) -> dict[str, Any]:
    return {"items": [task_json(t) for t in actions.subtasks_of(task_id)], "nextCursor": None}


@route(bp, "/api/tasks/{task_id}/subtasks", methods=["POST"], body=SUBTASK_CREATE, status=201)
def create_subtask(task_id: str) -> Response:
    return created(task_json(actions.create_subtask(task_id, _request_body())))


@route(bp, "/api/tasks/{task_id}/subtasks/status", methods=["GET"])
def subtask_status(task_id: str) -> dict[str, Any]:
    return status_json(actions.subtask_status(task_id))


@route(bp, "/api/tasks/{task_id}/dependencies", methods=["GET"])
def list_dependencies(task_id: str) -> dict[str, Any]:
    return {"items": [task_json(t) for t in actions.dependencies(task_id)], "nextCursor": None}


@route(bp, "/api/tasks/{task_id}/dependencies", methods=["POST"], body=DEPENDENCIES)
def add_dependencies(task_id: str) -> dict[str, Any]:
    return task_json(actions.add_dependencies(task_id, _request_body()))


@route(bp, "/api/tasks/{task_id}/dependencies/{dep_id}", methods=["DELETE"])
def remove_dependency(task_id: str, dep_id: str) -> dict[str, Any]:
    return task_json(actions.remove_dependency(task_id, dep_id))


@route(bp, "/api/tasks/{task_id}/dependents", methods=["GET"])
def list_dependents(task_id: str) -> dict[str, Any]:
    return {"items": [task_json(t) for t in actions.dependents_of(task_id)], "nextCursor": None}


@route(bp, "/api/tasks/{task_id}/events", methods=["GET"])
def task_events(task_id: str) -> dict[str, Any]:
    tasks.get(task_id)
    return {"items": [event_json(e) for e in tasks.events(task_id)], "nextCursor": None}


@route(bp, "/api/tasks/{task_id}/logs", methods=["GET"], query=("after", "limit"))
def task_logs(task_id: str) -> dict[str, Any]:
    request = bp.current_request
    limit, _ = paging(request)
    raw_after = query(request, "after") or "0"
    if not raw_after.isdigit():
        raise ValidationFailed("invalid after", [FieldProblem("after", "must be a sequence number")])
    tasks.get(task_id)
    lines = logs.after(task_id, int(raw_after), limit)
    next_after = str(lines[-1].seq) if len(lines) == limit else None
    return {"items": [log_json(line) for line in lines], "nextCursor": next_after}


@route(bp, "/api/tasks/{task_id}/runs", methods=["GET", "POST"])
def task_runs(task_id: str) -> None:
    actions.refuse_for_repo_task(task_id, "runs")


@route(bp, "/api/tasks/{task_id}/triggers", methods=["GET", "POST"])
def task_triggers(task_id: str) -> None:
    actions.refuse_for_repo_task(task_id, "triggers")
