"""`/api/tasks`: create, list, read, cancel, retry; events and logs."""
from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.core.states import TaskState
from chalicelib.engine import tasks as actions
from chalicelib.exceptions import FieldProblem, ValidationFailed
from chalicelib.store import logs, tasks

from .http import body_of, created, paging, query, route
from .shapes import event_json, log_json, task_json

bp = Blueprint(__name__)
TASK_TYPES = ("repo-task", "all")


@route(bp, "/api/tasks", methods=["POST"])
def create_task() -> Response:
    return created(task_json(actions.create_task(body_of(bp.current_request))))


@route(bp, "/api/tasks", methods=["GET"])
def list_tasks() -> dict[str, Any]:
    request = bp.current_request
    limit, cursor = paging(request)
    state, task_type = query(request, "state"), query(request, "type") or "all"
    if state is not None and state not in {s.value for s in TaskState}:
        raise ValidationFailed("invalid state", [FieldProblem("state", "is not a task state")])
    if task_type not in TASK_TYPES:
        raise ValidationFailed("invalid type", [FieldProblem("type", "must be repo-task or all")])
    page = tasks.list_tasks(state=state, repo_id=query(request, "repoId"), task_type="repo-task",
                            limit=limit, cursor=cursor)
    return {"items": [task_json(t) for t in page.items], "nextCursor": page.next_cursor}


@route(bp, "/api/tasks/{task_id}", methods=["GET"])
def get_task(task_id: str) -> dict[str, Any]:
    return task_json(tasks.get(task_id))


@route(bp, "/api/tasks/{task_id}/cancel", methods=["POST"])
def cancel_task(task_id: str) -> dict[str, Any]:
    return task_json(actions.cancel_task(task_id))


@route(bp, "/api/tasks/{task_id}/retry", methods=["POST"])
def retry_task(task_id: str) -> dict[str, Any]:
    return task_json(actions.retry_task(task_id))


@route(bp, "/api/tasks/{task_id}/events", methods=["GET"])
def task_events(task_id: str) -> dict[str, Any]:
    tasks.get(task_id)
    return {"items": [event_json(e) for e in tasks.events(task_id)], "nextCursor": None}


@route(bp, "/api/tasks/{task_id}/logs", methods=["GET"])
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
