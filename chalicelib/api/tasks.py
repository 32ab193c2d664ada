"""`/api/tasks`: repo tasks, their lifecycle actions, history and logs; blueprints (task configs)
resolved by the same ids, their runs and triggers. `/api/task-configs/*` serves the same views."""
from __future__ import annotations

from typing import Any, TypeVar

from chalice.app import Blueprint, Response

from chalicelib.core import task_list
from chalicelib.core.roles import MEMBER, VIEWER
from chalicelib.core.schemas import (
    BLUEPRINT_CREATE,
    DEPENDENCIES,
    HOOK_TEST,
    REORDER,
    RESTART,
    RESUME,
    RUN_CREATE,
    STANDALONE_CREATE,
    SUBTASK_CREATE,
    TASK_CREATE_ANY,
    TASK_PATCH_ANY,
    TRIGGER_CREATE,
    TRIGGER_PATCH,
)
from chalicelib.core.states import ExecutionKind, State
from chalicelib.exceptions import FieldProblem, NotFound, ValidationFailed
from chalicelib.services import apikeys, hooks, standalone
from chalicelib.services import configs as config_actions
from chalicelib.services import task_list as listing
from chalicelib.services import tasks as actions
from chalicelib.services import triggers as trigger_actions
from chalicelib.store import configs, executions, triggers
from chalicelib.store.models import ExecutionModel, TaskConfigModel
from chalicelib.store.pages import decode_cursor, encode_cursor

from .auth import acting
from .http import JSON, body_of, created, paging, query, route
from .shapes import (
    config_json,
    event_json,
    log_page,
    status_json,
    task_json,
    task_summary_json,
    trigger_json,
    workflow_run_json,
)

bp = Blueprint(__name__)
T = TypeVar("T")
TASK_TYPES = ("repo-task", "repo-blueprint", "standalone", "all")


CONFIG_TYPES = ("repo-blueprint", "standalone")
# `summary`: repo tasks with only what a list shows (`shapes.SUMMARY_FIELDS`); blueprints and
# standalone tasks, few, come whole either way.
VIEWS = ("full", "summary")


def _request_body() -> Any:
    return body_of(bp.current_request)


def _resolve(task_id: str) -> ExecutionModel | TaskConfigModel:
    """A repo task or a blueprint, by id: the executions table first, then the configs table."""
    try:
        return executions.get(task_id, ExecutionKind.REPO_TASK)
    except NotFound:
        config = configs.find(task_id)
        if config is None:
            raise
        return config


def _config(task_id: str, what: str) -> TaskConfigModel:
    """The blueprint `task_id` names; a repo task has no `what` (405)."""
    config = configs.find(task_id)
    if config is None:
        actions.refuse_for_repo_task(task_id, what)  # 405 for a repo task, 404 for nothing
        raise NotFound(f"task {task_id} not found")
    return config


@route(bp, "/api/tasks", methods=["POST"], role=MEMBER, body=TASK_CREATE_ANY, status=201)
def create_task() -> Response:
    """Create a repo task or a blueprint (by `type`)"""
    body = _request_body()
    if isinstance(body, dict) and body.get("type") == "repo-blueprint":
        return created(config_json(config_actions.create_blueprint(body)))
    if isinstance(body, dict) and body.get("type") == "standalone":
        return created(config_json(standalone.create_standalone(body)))
    return created(task_json(actions.create_task(body)))


@route(bp, "/api/task-configs", methods=["POST"], role=MEMBER, body=BLUEPRINT_CREATE, status=201)
def create_config() -> Response:
    """Create a blueprint (`type` defaults to repo-blueprint)"""
    body = _request_body()
    if isinstance(body, dict):
        body.setdefault("type", "repo-blueprint")
    return created(config_json(config_actions.create_blueprint(body)))


@route(bp, "/api/jobs", methods=["POST"], role=MEMBER, body=STANDALONE_CREATE, status=201)
def create_job() -> Response:
    """Create a standalone task (`type` defaults to standalone)"""
    body = _request_body()
    if isinstance(body, dict):
        body.setdefault("type", "standalone")
    return created(config_json(standalone.create_standalone(body)))


@route(bp, "/api/jobs", methods=["GET"], role=VIEWER, query=("limit", "cursor"))
def list_jobs() -> dict[str, Any]:
    """List standalone tasks"""
    items, next_cursor = _list_configs("standalone", None, *paging(bp.current_request))
    return {"items": items, "nextCursor": next_cursor}


@route(bp, "/api/task-configs", methods=["GET"], role=VIEWER, query=("repoId", "limit", "cursor"))
def list_configs() -> dict[str, Any]:
    """List blueprints"""
    request = bp.current_request
    items, next_cursor = _list_configs("repo-blueprint", query(request, "repoId"), *paging(request))
    return {"items": items, "nextCursor": next_cursor}


def _cursor_in(phase: str, inner: str | None) -> str:
    return encode_cursor({"phase": {"S": phase}, "inner": {"S": inner or ""}})


_PHASES = ("repo-task", "repo-blueprint", "standalone")


def _cursor_out(cursor: str | None) -> tuple[str, str | None]:
    """`?type=all` pages through repo tasks, then blueprints, then standalone tasks: the cursor
    says which, and where."""
    key = decode_cursor(cursor)
    if key is None:
        return "repo-task", None
    phase, inner = key.get("phase", {}).get("S"), key.get("inner", {}).get("S")
    if phase not in _PHASES or inner is None:
        raise ValidationFailed("invalid cursor", [FieldProblem("cursor", "is not a cursor this API returned")])
    return phase, inner or None


def _list_configs(config_type: str, repo_id: str | None, limit: int, cursor: str | None,
                  created_by: frozenset[str] | None = None, needle: str | None = None) -> tuple[list[Any], str | None]:
    page = configs.list_configs(config_type, limit, cursor)
    items = [config_json(c) for c in page.items
             if (repo_id is None or c.repoId == repo_id) and (created_by is None or c.createdBy in created_by)
             and task_list.matches(needle, (c.name, c.repoUrl))]
    return items, page.next_cursor


def _valid(value: T | list[FieldProblem]) -> T:
    if isinstance(value, list):
        raise ValidationFailed(f"invalid {value[0].field}", value)
    return value


@route(bp, "/api/tasks", methods=["GET"], role=VIEWER, etag=True,
       query=("type", "state", "repoId", "createdBy", "q", "sort", "order", "view", "limit", "cursor"))
def list_tasks() -> dict[str, Any]:
    request = bp.current_request
    view = query(request, "view") or "full"
    if view not in VIEWS:
        raise ValidationFailed("invalid view", [FieldProblem("view", f"must be one of {', '.join(VIEWS)}")])
    shape = task_summary_json if view == "summary" else task_json
    limit, cursor = paging(request)
    # `createdBy=me`: the caller's own ("my tasks": signed in or through their API keys); else a
    # principal as recorded (`user:<id>`, ...).
    by = query(request, "createdBy")
    created_by = apikeys.own_principals(acting(request)) if by == "me" else frozenset({by}) if by else None
    state, task_type = query(request, "state"), query(request, "type") or "all"
    if state is not None and state not in {s.value for s in State}:
        raise ValidationFailed("invalid state", [FieldProblem("state", "is not a task state")])
    if task_type not in TASK_TYPES:
        raise ValidationFailed("invalid type", [FieldProblem("type", f"must be one of {', '.join(TASK_TYPES)}")])
    order = _valid(task_list.order_of(query(request, "sort"), query(request, "order")))
    needle = _valid(task_list.search_of(query(request, "q")))
    if task_type != "repo-task" and order != task_list.Order("created", descending=True):
        # Blueprints and standalone tasks come in the store's order only.
        raise ValidationFailed("invalid sort", [FieldProblem("sort", "only type=repo-task sorts other than newest first")])
    repo_id = query(request, "repoId")
    filters = listing.Filters(state=state, repo_id=repo_id, created_by=created_by, needle=needle)
    if task_type in CONFIG_TYPES:
        # Blueprints and standalone tasks have no state; standalone tasks no repository.
        if state is not None or (task_type == "standalone" and repo_id):
            return {"items": [], "nextCursor": None}
        found, after = _list_configs(task_type, repo_id, limit, cursor, created_by, needle)
        return {"items": found, "nextCursor": after}
    if task_type == "repo-task":
        page = listing.list_tasks(filters, order, limit, cursor)
        return {"items": [shape(t) for t in page.items], "nextCursor": page.next_cursor}
    # all: repo tasks, then blueprints, then standalone tasks (a state filter leaves the configs
    # out, a repoId filter the standalone tasks). A page holds items of one kind.
    phase, inner = _cursor_out(cursor)
    last = "repo-task" if state is not None else "repo-blueprint" if repo_id else "standalone"
    items: list[Any]
    if phase == "repo-task":
        page = listing.list_tasks(filters, order, limit, inner)
        items, next_cursor = [shape(t) for t in page.items], page.next_cursor
    else:
        items, next_cursor = _list_configs(phase, repo_id, limit, inner, created_by, needle)
    if next_cursor:
        return {"items": items, "nextCursor": _cursor_in(phase, next_cursor)}
    if phase == last:
        return {"items": items, "nextCursor": None}
    return {"items": items, "nextCursor": _cursor_in(_PHASES[_PHASES.index(phase) + 1], None)}


@route(bp, "/api/tasks/{task_id}", methods=["GET"], role=VIEWER)
def get_task(task_id: str) -> dict[str, Any]:
    """Get a repo task or a blueprint"""
    found = _resolve(task_id)
    if isinstance(found, TaskConfigModel):
        return config_json(found)
    return {**task_json(found), "subtaskStatus": status_json(actions.subtask_status(task_id))}


@route(bp, "/api/tasks/{task_id}", methods=["PATCH"], role=MEMBER, body=TASK_PATCH_ANY)
def update_task(task_id: str) -> dict[str, Any]:
    """Update a repo task or a blueprint"""
    found = _resolve(task_id)
    if isinstance(found, TaskConfigModel) and found.type == "standalone":
        return config_json(standalone.update_standalone(found, _request_body()))
    if isinstance(found, TaskConfigModel):
        return config_json(config_actions.update_blueprint(found, _request_body()))
    return task_json(actions.update_task(task_id, _request_body()))


@route(bp, "/api/tasks/{task_id}", methods=["DELETE"], role=MEMBER, status=204)
def delete_task(task_id: str) -> Response:
    """Delete a repo task or a blueprint"""
    found = _resolve(task_id)
    if isinstance(found, TaskConfigModel):
        trigger_actions.delete_all(found.id)
        config_actions.delete_blueprint(found)
    else:
        actions.delete_task(task_id)
    return Response(body="", status_code=204, headers=JSON)


@route(bp, "/api/tasks/{task_id}/cancel", methods=["POST"], role=MEMBER)
def cancel_task(task_id: str) -> dict[str, Any]:
    return task_json(actions.cancel_task(task_id))


@route(bp, "/api/tasks/{task_id}/retry", methods=["POST"], role=MEMBER)
def retry_task(task_id: str) -> dict[str, Any]:
    return task_json(actions.retry_task(task_id))


@route(bp, "/api/tasks/{task_id}/resume", methods=["POST"], role=MEMBER, body=RESUME)
def resume_task(task_id: str) -> dict[str, Any]:
    return task_json(actions.resume_task(task_id, _request_body()))


@route(bp, "/api/tasks/{task_id}/force-restart", methods=["POST"], role=MEMBER, body=RESTART)
def force_restart(task_id: str) -> dict[str, Any]:
    return task_json(actions.force_restart(task_id, _request_body()))


@route(bp, "/api/tasks/{task_id}/force-redo", methods=["POST"], role=MEMBER)
def force_redo(task_id: str) -> dict[str, Any]:
    return task_json(actions.force_redo(task_id))


@route(bp, "/api/tasks/{task_id}/review", methods=["POST"], role=MEMBER, status=201)
def launch_review(task_id: str) -> Response:
    return created(task_json(actions.launch_review(task_id)))


@route(bp, "/api/tasks/reorder", methods=["POST"], role=MEMBER, body=REORDER)
def reorder() -> dict[str, int]:
    return actions.reorder(_request_body())


@route(bp, "/api/tasks/bulk/retry-failed", methods=["POST"], role=MEMBER)
def bulk_retry_failed() -> dict[str, int]:
    return actions.bulk_retry_failed()


@route(bp, "/api/tasks/bulk/cancel-active", methods=["POST"], role=MEMBER)
def bulk_cancel_active() -> dict[str, int]:
    return actions.bulk_cancel_active()


@route(bp, "/api/tasks/{task_id}/subtasks", methods=["GET"], role=VIEWER)
def list_subtasks(task_id: str) -> dict[str, Any]:
    return {"items": [task_json(t) for t in actions.subtasks_of(task_id)], "nextCursor": None}


@route(bp, "/api/tasks/{task_id}/subtasks", methods=["POST"], role=MEMBER, body=SUBTASK_CREATE, status=201)
def create_subtask(task_id: str) -> Response:
    return created(task_json(actions.create_subtask(task_id, _request_body())))


@route(bp, "/api/tasks/{task_id}/subtasks/status", methods=["GET"], role=VIEWER)
def subtask_status(task_id: str) -> dict[str, Any]:
    return status_json(actions.subtask_status(task_id))


@route(bp, "/api/tasks/{task_id}/dependencies", methods=["GET"], role=VIEWER)
def list_dependencies(task_id: str) -> dict[str, Any]:
    return {"items": [task_json(t) for t in actions.dependencies(task_id)], "nextCursor": None}


@route(bp, "/api/tasks/{task_id}/dependencies", methods=["POST"], role=MEMBER, body=DEPENDENCIES)
def add_dependencies(task_id: str) -> dict[str, Any]:
    return task_json(actions.add_dependencies(task_id, _request_body()))


@route(bp, "/api/tasks/{task_id}/dependencies/{dep_id}", methods=["DELETE"], role=MEMBER)
def remove_dependency(task_id: str, dep_id: str) -> dict[str, Any]:
    return task_json(actions.remove_dependency(task_id, dep_id))


@route(bp, "/api/tasks/{task_id}/dependents", methods=["GET"], role=VIEWER)
def list_dependents(task_id: str) -> dict[str, Any]:
    return {"items": [task_json(t) for t in actions.dependents_of(task_id)], "nextCursor": None}


@route(bp, "/api/tasks/{task_id}/events", methods=["GET"], role=VIEWER, etag=True)
def task_events(task_id: str) -> dict[str, Any]:
    executions.get(task_id, ExecutionKind.REPO_TASK)
    return {"items": [event_json(e) for e in executions.events(task_id)], "nextCursor": None}


@route(bp, "/api/tasks/{task_id}/logs", methods=["GET"], role=VIEWER, query=("after", "before", "order", "limit"))
def task_logs(task_id: str) -> dict[str, Any]:
    executions.get(task_id, ExecutionKind.REPO_TASK)
    return log_page(bp.current_request, task_id)


@route(bp, "/api/tasks/{task_id}/runs", methods=["POST"], role=MEMBER, body=RUN_CREATE, status=202)
def create_run(task_id: str) -> Response:
    """Run a blueprint or a standalone task with params"""
    run = config_actions.run_from_request(_config(task_id, "runs"), _request_body())
    return Response(body={"runId": run.id, "type": run.type}, status_code=202, headers=JSON)


@route(bp, "/api/tasks/{task_id}/runs", methods=["GET"], role=VIEWER, query=("limit", "cursor"), etag=True)
def list_runs(task_id: str) -> dict[str, Any]:
    """Runs of a blueprint or a standalone task, newest first"""
    config = _config(task_id, "runs")
    if config.type == "standalone":
        runs = executions.of_config(config.id, *paging(bp.current_request))
        return {"items": [workflow_run_json(r) for r in runs.items], "nextCursor": runs.next_cursor}
    page = executions.of_config(config.id, *paging(bp.current_request))
    return {"items": [task_json(t) for t in page.items], "nextCursor": page.next_cursor}


@route(bp, "/api/tasks/{task_id}/runs/{run_id}", methods=["GET"], role=VIEWER)
def get_run(task_id: str, run_id: str) -> dict[str, Any]:
    """One run of a blueprint or a standalone task"""
    config = _config(task_id, "runs")
    if config.type == "standalone":
        workflow_run = executions.get(run_id, ExecutionKind.RUN)
        if workflow_run.taskConfigId != config.id:
            raise NotFound(f"run {run_id} of task {task_id} not found")
        return workflow_run_json(workflow_run)
    try:
        run = executions.get(run_id, ExecutionKind.REPO_TASK)
    except NotFound:
        run = None
    if run is None or run.taskConfigId != config.id:
        raise NotFound(f"run {run_id} of task {task_id} not found")
    return task_json(run)


@route(bp, "/api/tasks/{task_id}/triggers", methods=["POST"], role=MEMBER, body=TRIGGER_CREATE, status=201)
def create_trigger(task_id: str) -> Response:
    """Add a schedule or webhook trigger to a blueprint"""
    return created(trigger_json(trigger_actions.create_trigger(_config(task_id, "triggers"), _request_body())))


@route(bp, "/api/tasks/{task_id}/triggers", methods=["GET"], role=VIEWER)
def list_triggers(task_id: str) -> dict[str, Any]:
    """Triggers of a blueprint"""
    config = _config(task_id, "triggers")
    return {"items": [trigger_json(t) for t in triggers.of_target(config.id)], "nextCursor": None}


@route(bp, "/api/tasks/{task_id}/triggers/{trigger_id}", methods=["PATCH"], role=MEMBER, body=TRIGGER_PATCH)
def update_trigger(task_id: str, trigger_id: str) -> dict[str, Any]:
    """Change a trigger's config, or pause and resume it"""
    config = _config(task_id, "triggers")
    return trigger_json(trigger_actions.update_trigger(config, trigger_id, _request_body()))


@route(bp, "/api/tasks/{task_id}/triggers/{trigger_id}", methods=["DELETE"], role=MEMBER, status=204)
def delete_trigger(task_id: str, trigger_id: str) -> Response:
    """Delete a trigger"""
    trigger_actions.delete_trigger(_config(task_id, "triggers"), trigger_id)
    return Response(body="", status_code=204, headers=JSON)


@route(bp, "/api/tasks/{task_id}/hooks/test", methods=["POST"], role=MEMBER, body=HOOK_TEST)
def test_webhook(task_id: str) -> dict[str, Any]:
    """Dry-run a webhook delivery: the params a paramMapping takes from a sample body and the run's title and prompt, nothing run"""
    return hooks.dry_run(_config(task_id, "triggers"), _request_body())


# `/api/task-configs/*` and `/api/jobs/*`: the same views on second paths.
for _prefix in ("/api/task-configs", "/api/jobs"):
    for _path, _methods, _view, _body, _query, _status in (
        ("/{task_id}", ["GET"], get_task, None, (), 200),
        ("/{task_id}", ["PATCH"], update_task, TASK_PATCH_ANY, (), 200),
        ("/{task_id}", ["DELETE"], delete_task, None, (), 204),
        ("/{task_id}/runs", ["POST"], create_run, RUN_CREATE, (), 202),
        ("/{task_id}/runs", ["GET"], list_runs, None, ("limit", "cursor"), 200),
        ("/{task_id}/runs/{run_id}", ["GET"], get_run, None, (), 200),
        ("/{task_id}/triggers", ["POST"], create_trigger, TRIGGER_CREATE, (), 201),
        ("/{task_id}/triggers", ["GET"], list_triggers, None, (), 200),
        ("/{task_id}/triggers/{trigger_id}", ["PATCH"], update_trigger, TRIGGER_PATCH, (), 200),
        ("/{task_id}/triggers/{trigger_id}", ["DELETE"], delete_trigger, None, (), 204),
    ):
        route(bp, _prefix + _path, methods=_methods, body=_body, query=_query, status=_status,
              role=VIEWER if _methods == ["GET"] else MEMBER)(_view)
