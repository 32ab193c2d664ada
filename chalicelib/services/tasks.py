"""Task actions behind the API. Each is a compare-and-swap on the task row: a task that moved
meanwhile is read again and the action decided again, never overwritten."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

from chalicelib.core import subtasks as subtasks_core
from chalicelib.core.connections import listed
from chalicelib.core.graph import find_cycle
from chalicelib.core.naming import branch_name
from chalicelib.core.prompts import TaskContext, restart_prompt
from chalicelib.core.queue_order import Placed, new_priorities
from chalicelib.core.requests import Request
from chalicelib.core.schemas import (
    AGENT_ALIASES,
    DEPENDENCIES,
    REORDER,
    RESTART,
    RESUME,
    SUBTASK_CREATE,
    TASK_CREATE,
    TASK_DEFAULT_MAX_RETRIES,
    TASK_PATCH,
)
from chalicelib.core.states import LIFECYCLES, ExecutionKind, State
from chalicelib.engine.clock import utcnow
from chalicelib.engine.executor import create_review, subtask_view
from chalicelib.exceptions import Conflict, FieldProblem, NotAllowedForType, NotFound, ValidationFailed
from chalicelib.store import comments, executions, logs
from chalicelib.store.models import ExecutionModel

from .connections import check_connections
from .executions import carry_out, request, with_retries
from .repos import resolve_repo
from .secrets import check_agent_secrets
from .validation import require_valid

S = State
TASK = ExecutionKind.REPO_TASK
# Fields a PATCH may change only before an agent has picked the task up.
_BEFORE_RUN = frozenset({S.PENDING, S.WAITING_ON_DEPS, S.QUEUED, S.FAILED, S.CANCELLED,
                         S.NEEDS_ATTENTION})


def _with_retries(task_id: str, act: Callable[[ExecutionModel], ExecutionModel]) -> ExecutionModel:
    return with_retries(task_id, TASK, act)


def _check_deps_exist(dep_ids: list[str], field: str) -> None:
    found = {t.id for t in executions.batch(dep_ids) if t.type == TASK.value}
    missing = [d for d in dep_ids if d not in found]
    if missing:
        raise ValidationFailed("unknown dependency", [FieldProblem(field, f"no task {m}") for m in missing])


def create_task(body: Any, **extra: Any) -> ExecutionModel:
    given = require_valid(TASK_CREATE, body)
    # Checked again for a task from a blueprint or template: a secret may have gone since.
    check_agent_secrets((given.get("environment") or {}).get("secrets") or [], "environment.secrets")
    check_connections(listed(given.get("environment")), "environment.connections")
    repo = resolve_repo(given)
    task_id = str(uuid.uuid4())
    depends_on = list(given.get("dependsOn") or []) + list(extra.pop("dependsOn", []))
    _check_deps_exist(depends_on, "dependsOn")
    agent = given.get("agentType") or repo.defaultAgentType
    fields = {
        "id": task_id,
        "type": TASK.value,
        "state": S.PENDING.value,
        "title": given["title"],
        "prompt": given["prompt"],
        "repoId": repo.id,
        "repoUrl": repo.repoUrl,
        "repoBranch": given.get("repoBranch") or repo.defaultBranch,
        "branchName": branch_name(given["title"], task_id),
        "agentType": AGENT_ALIASES.get(agent, agent),
        "model": given.get("model") or repo.model,
        "priority": given.get("priority", 0),
        "maxRetries": given.get("maxRetries", TASK_DEFAULT_MAX_RETRIES),
        "metadata": given.get("metadata"),
        "dependsOn": depends_on or None,
        "environment": given.get("environment"),
        **extra,
    }
    return executions.create(fields, utcnow())


def update_task(task_id: str, body: Any) -> ExecutionModel:
    given = require_valid(TASK_PATCH, body)
    if "agentType" in given:
        given["agentType"] = AGENT_ALIASES.get(given["agentType"], given["agentType"])

    def act(task: ExecutionModel) -> ExecutionModel:
        content = set(given) - {"priority", "metadata"}
        if content and S(task.state) not in _BEFORE_RUN:
            raise Conflict(f"{', '.join(sorted(content))} cannot change while the task is {task.state}",
                           state=task.state)
        return executions.update(task, given, utcnow())

    return _with_retries(task_id, act)


def delete_task(task_id: str) -> None:
    """The row goes (never one with a live agent); its removal on the stream fails the tasks
    that waited for it."""
    def act(task: ExecutionModel) -> ExecutionModel:
        if S(task.state) in LIFECYCLES[TASK].slot_states:
            raise Conflict("cancel the task before deleting it: its agent is running", state=task.state)
        executions.delete(task)
        logs.delete_all(task.id)
        comments.delete_all(task.id)
        return task

    _with_retries(task_id, act)


def cancel_task(task_id: str) -> ExecutionModel:
    return request(task_id, TASK, Request.CANCEL)


def retry_task(task_id: str) -> ExecutionModel:
    return request(task_id, TASK, Request.RETRY)


def resume_task(task_id: str, body: Any) -> ExecutionModel:
    prompt = require_valid(RESUME, body)["prompt"]
    return request(task_id, TASK, Request.RESUME, changes={"nextPrompt": prompt})


def _context(task: ExecutionModel) -> TaskContext:
    return TaskContext(title=task.title, prompt=task.prompt, branch_name=str(task.branchName),
                       pr_url=task.prUrl, checks_status=task.prChecksStatus,
                       review_status=task.prReviewStatus, last_error=task.errorMessage)


def force_restart(task_id: str, body: Any) -> ExecutionModel:
    given = require_valid(RESTART, body or {})

    def act(task: ExecutionModel) -> ExecutionModel:
        prompt = given.get("prompt") or restart_prompt(_context(task))
        keep = bool(given.get("keepSession")) and task.sessionId is not None
        return carry_out(task, Request.FORCE_RESTART,
                         changes={"nextPrompt": prompt, "resumeSession": True if keep else None},
                         message="restarted, continuing the agent session" if keep else None)

    return _with_retries(task_id, act)


def force_redo(task_id: str) -> ExecutionModel:
    moved = request(task_id, TASK, Request.FORCE_REDO)
    logs.delete_all(task_id)
    return moved


def reorder(body: Any) -> dict[str, int]:
    """The queue starts in the given order; only the priorities that order needs are written, so
    moving one task changes that task (`affected` counts the changed ones)."""
    ids = require_valid(REORDER, body)["taskIds"]
    found = {t.id: t for t in executions.batch(list(dict.fromkeys(ids))) if t.type == TASK.value}
    order = [Placed(row.id, int(row.priority or 0), row.queuedAt or row.createdAt)
             for row in (found[i] for i in dict.fromkeys(ids) if i in found)]
    affected = 0
    for task_id, priority in new_priorities(order).items():
        def move(task: ExecutionModel, priority: int = priority) -> ExecutionModel:
            return executions.update(task, {"priority": priority}, utcnow())

        try:
            _with_retries(task_id, move)
            affected += 1
        except NotFound:
            continue
    return {"affected": affected, "total": len(ids)}


def _bulk(states: Iterable[State], act: Callable[[str], ExecutionModel]) -> dict[str, int]:
    # States are read in the order tasks move through them, so one that moves on between two
    # reads is found again in a later one (and counted once).
    ids = list(dict.fromkeys(t.id for state in states for t in executions.all_in_state(TASK, state)))
    affected = 0
    for task_id in ids:
        try:
            act(task_id)
            affected += 1
        except (Conflict, NotFound):
            # Moved on meanwhile: skipped, not clobbered.
            continue
    return {"affected": affected, "total": len(ids)}


def bulk_retry_failed() -> dict[str, int]:
    return _bulk([S.FAILED], retry_task)


def bulk_cancel_active() -> dict[str, int]:
    return _bulk([S.PENDING, S.WAITING_ON_DEPS, S.QUEUED, S.PROVISIONING, S.RUNNING], cancel_task)


def dependencies(task_id: str) -> list[ExecutionModel]:
    task = executions.get(task_id, TASK)
    return executions.batch([str(d) for d in task.dependsOn or []])


def dependents_of(task_id: str) -> list[ExecutionModel]:
    executions.get(task_id, TASK)
    return executions.batch(executions.dependents(task_id))


def _closure(start: list[str]) -> dict[str, list[str]]:
    """Every dependency edge reachable from `start`, read a level at a time."""
    edges: dict[str, list[str]] = {}
    frontier = list(start)
    while frontier:
        rows = executions.batch([t for t in frontier if t not in edges])
        frontier = []
        for row in rows:
            edges[row.id] = [str(d) for d in row.dependsOn or []]
            frontier.extend(d for d in edges[row.id] if d not in edges)
    return edges


def add_dependencies(task_id: str, body: Any) -> ExecutionModel:
    new = require_valid(DEPENDENCIES, body)["dependsOnIds"]

    def act(task: ExecutionModel) -> ExecutionModel:
        if task.id in new:
            raise ValidationFailed("a task cannot depend on itself",
                                   [FieldProblem("dependsOnIds", f"contains the task itself ({task.id})")])
        _check_deps_exist(new, "dependsOnIds")
        cycle = find_cycle(task.id, new, _closure(new))
        if cycle:
            raise ValidationFailed("dependency cycle",
                                   [FieldProblem("dependsOnIds", "would close the cycle " + " -> ".join(cycle))],
                                   cycle=cycle)
        if S(task.state) not in (S.PENDING, S.WAITING_ON_DEPS):
            raise Conflict("dependencies can only be added before the task is queued; create it with "
                           "`dependsOn` instead", state=task.state)
        current = [str(d) for d in task.dependsOn or []]
        return executions.set_dependencies(task, current + [d for d in new if d not in current], utcnow())

    return _with_retries(task_id, act)


def remove_dependency(task_id: str, dep_id: str) -> ExecutionModel:
    def act(task: ExecutionModel) -> ExecutionModel:
        current = [str(d) for d in task.dependsOn or []]
        if dep_id not in current:
            raise NotFound(f"task {task_id} does not depend on {dep_id}")
        return executions.set_dependencies(task, [d for d in current if d != dep_id], utcnow())

    return _with_retries(task_id, act)


def subtasks_of(task_id: str) -> list[ExecutionModel]:
    executions.get(task_id, TASK)
    return executions.subtasks(task_id)


def subtask_status(task_id: str) -> subtasks_core.SubtaskStatus:
    return subtasks_core.status([subtask_view(t) for t in subtasks_of(task_id)])


def create_subtask(parent_id: str, body: Any) -> ExecutionModel:
    given = require_valid(SUBTASK_CREATE, body)
    parent = executions.get(parent_id, TASK)
    if S(parent.state) is S.COMPLETED:
        raise Conflict("a completed task takes no more subtasks", state=parent.state)
    agent = given.get("agentType")
    wanted = subtasks_core.NewSubtask(
        title=given["title"], prompt=given["prompt"], task_type=given.get("taskType", "child"),
        agent_type=AGENT_ALIASES.get(agent, agent) if agent else None, priority=given.get("priority"),
        max_retries=given.get("maxRetries"), blocks_parent=given.get("blocksParent"))
    order = executions.next_subtask_order(parent.id)
    existing = [subtask_view(t) for t in executions.subtasks(parent.id)]
    previous = subtasks_core.previous_step(existing, order) if wanted.task_type == "step" else None
    row = subtasks_core.subtask_row(parent.attribute_values, str(uuid.uuid4()), wanted, order, previous)
    return executions.create(row, utcnow())


def launch_review(task_id: str) -> ExecutionModel:
    task = executions.get(task_id, TASK)
    if not task.prUrl:
        raise ValidationFailed("the task has no pull request to review",
                               [FieldProblem("prUrl", "the task has not opened a pull request")])
    if S(task.state) is S.COMPLETED:
        raise Conflict("a completed task takes no more subtasks", state=task.state)
    return create_review(task)


def refuse_for_repo_task(task_id: str, what: str) -> None:
    """`/runs` and `/triggers` belong to blueprints and standalone tasks."""
    task = executions.get(task_id, TASK)
    if task is not None:
        raise NotAllowedForType(f"a repo task has no {what}; only blueprints and standalone tasks do",
                                type=task.type)
