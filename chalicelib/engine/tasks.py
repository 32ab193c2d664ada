"""Task actions behind the API. Each is a compare-and-swap on the task row: a task that moved
meanwhile is read again and the action decided again, never overwritten."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

from chalicelib.core import subtasks as subtasks_core
from chalicelib.core.graph import find_cycle
from chalicelib.core.naming import branch_name
from chalicelib.core.prompts import TaskContext, restart_prompt, review_prompt
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
from chalicelib.core.states import ACTIVE_STATES, CANCELLABLE, SLOT_STATES, TaskState, can_transition
from chalicelib.exceptions import Conflict, FieldProblem, NotAllowedForType, NotFound, ValidationFailed
from chalicelib.launch import get_launcher
from chalicelib.store import comments, logs, tasks
from chalicelib.store.models import TaskModel

from .clock import utcnow
from .reconciler import reconcile, subtask_view
from .repos import resolve_repo
from .validation import require_valid

S = TaskState
CAS_TRIES = 4
# Fields a PATCH may change only before an agent has picked the task up.
_BEFORE_RUN = frozenset({S.PENDING, S.WAITING_ON_DEPS, S.QUEUED, S.FAILED, S.CANCELLED,
                         S.NEEDS_ATTENTION})
_RUN_RESULT_FIELDS = ("prUrl", "prNumber", "prState", "prChecksStatus", "prReviewStatus",
                      "resultSummary", "costUsd", "inputTokens", "outputTokens", "modelUsed",
                      "sessionId", "commitSha")


def _with_retries(task_id: str, act: Callable[[TaskModel], TaskModel]) -> TaskModel:
    for _ in range(CAS_TRIES):
        task = tasks.get(task_id)
        try:
            return act(task)
        except tasks.LostRace:
            continue
    raise Conflict(f"task {task_id} kept changing; try again")


def _conflict(task: TaskModel, action: str) -> Conflict:
    return Conflict(f"cannot {action} a {task.state} task", state=task.state)


def _check_deps_exist(dep_ids: list[str], field: str) -> None:
    found = {t.id for t in tasks.batch(dep_ids)}
    missing = [d for d in dep_ids if d not in found]
    if missing:
        raise ValidationFailed("unknown dependency", [FieldProblem(field, f"no task {m}") for m in missing])


def create_task(body: Any, **extra: Any) -> TaskModel:
    given = require_valid(TASK_CREATE, body)
    repo = resolve_repo(given)
    task_id = str(uuid.uuid4())
    depends_on = list(given.get("dependsOn") or []) + list(extra.pop("dependsOn", []))
    _check_deps_exist(depends_on, "dependsOn")
    agent = given.get("agentType") or repo.defaultAgentType
    fields = {
        "id": task_id,
        "type": "repo-task",
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
        **extra,
    }
    return tasks.create(fields, utcnow())


def update_task(task_id: str, body: Any) -> TaskModel:
    given = require_valid(TASK_PATCH, body)
    if "agentType" in given:
        given["agentType"] = AGENT_ALIASES.get(given["agentType"], given["agentType"])

    def act(task: TaskModel) -> TaskModel:
        content = set(given) - {"priority", "metadata"}
        if content and S(task.state) not in _BEFORE_RUN:
            raise Conflict(f"{', '.join(sorted(content))} cannot change while the task is {task.state}",
                           state=task.state)
        return tasks.update(task, given, utcnow())

    return _with_retries(task_id, act)


def delete_task(task_id: str) -> None:
    def act(task: TaskModel) -> TaskModel:
        if S(task.state) in ACTIVE_STATES:
            raise Conflict("cancel the task before deleting it: its agent is running", state=task.state)
        waiting = tasks.dependents(task.id)
        tasks.delete(task)
        logs.delete_all(task.id)
        comments.delete_all(task.id)
        # Tasks waiting for this one fail now rather than wait forever.
        for dependent in waiting:
            reconcile(dependent)
        return task

    _with_retries(task_id, act)


def cancel_task(task_id: str) -> TaskModel:
    def act(task: TaskModel) -> TaskModel:
        state = S(task.state)
        if state is S.PENDING:
            # Only the reconciler takes a task out of `pending` (SPEC §3); a cancel right after
            # the create has it do so now instead of refusing, then cancels what it made of it.
            reconcile(task.id)
            task = tasks.get(task.id)
            state = S(task.state)
        if state not in CANCELLABLE:
            raise _conflict(task, "cancel")
        attempt = int(task.attempt)
        moved = tasks.transition(
            task, S.CANCELLED, trigger="user", message="cancelled by user", now=utcnow()
        )
        if state in SLOT_STATES:
            # Stop at once; the reconciler stops it too if this call is lost.
            get_launcher().cancel(task.id, attempt)
        return moved

    return _with_retries(task_id, act)


def _requeue(task: TaskModel, *, trigger: str, message: str, changes: dict[str, Any]) -> TaskModel:
    """Queue `task` again from wherever it stands: a running agent is stopped and the task goes
    through `cancelled` first, the only way out of `running` back to the queue (SPEC §3)."""
    state = S(task.state)
    if state is S.RUNNING:
        attempt = int(task.attempt)
        task = tasks.transition(task, S.CANCELLED, trigger=trigger, message=f"{message}: stopping the agent",
                                now=utcnow())
        get_launcher().cancel(task.id, attempt)
    elif state is S.PROVISIONING:
        get_launcher().cancel(task.id, int(task.attempt))
    if not can_transition(S(task.state), S.QUEUED):
        raise _conflict(task, trigger.replace("_", "-"))
    return tasks.transition(task, S.QUEUED, trigger=trigger, message=message, now=utcnow(),
                            changes=changes)


def retry_task(task_id: str) -> TaskModel:
    def act(task: TaskModel) -> TaskModel:
        if S(task.state) not in (S.FAILED, S.CANCELLED):
            raise Conflict(f"only failed or cancelled tasks can be retried, not {task.state}",
                           state=task.state)
        # A manual retry gives the task its automatic retries back.
        return tasks.transition(task, S.QUEUED, trigger="user", message="retried by user", now=utcnow(),
                                changes={"retryCount": 0, "nextPrompt": None, "resumeSession": None,
                                         "autoResumeCount": None})

    return _with_retries(task_id, act)


def resume_task(task_id: str, body: Any) -> TaskModel:
    prompt = require_valid(RESUME, body)["prompt"]

    def act(task: TaskModel) -> TaskModel:
        if S(task.state) not in (S.NEEDS_ATTENTION, S.FAILED):
            raise _conflict(task, "resume")
        return tasks.transition(task, S.QUEUED, trigger="user", message="resumed with new context",
                                now=utcnow(), changes={"nextPrompt": prompt, "resumeSession": True,
                                                       "retryCount": 0, "resetBranch": None,
                                                       "autoResumeCount": None})

    return _with_retries(task_id, act)


def _context(task: TaskModel) -> TaskContext:
    return TaskContext(title=task.title, prompt=task.prompt, branch_name=task.branchName,
                       pr_url=task.prUrl, checks_status=task.prChecksStatus,
                       review_status=task.prReviewStatus, last_error=task.errorMessage)


def force_restart(task_id: str, body: Any) -> TaskModel:
    given = require_valid(RESTART, body or {})

    def act(task: TaskModel) -> TaskModel:
        prompt = given.get("prompt") or restart_prompt(_context(task))
        keep = bool(given.get("keepSession")) and task.sessionId is not None
        return _requeue(task, trigger="force_restart",
                        message="restarted, continuing the agent session" if keep
                        else "restarted with a fresh agent session",
                        changes={"nextPrompt": prompt, "resumeSession": True if keep else None, "retryCount": 0,
                                 "resetBranch": None, "autoResumeCount": None})

    return _with_retries(task_id, act)


def force_redo(task_id: str) -> TaskModel:
    def act(task: TaskModel) -> TaskModel:
        cleared: dict[str, Any] = {name: None for name in _RUN_RESULT_FIELDS}
        cleared.update(nextPrompt=None, resumeSession=None, retryCount=0, resetBranch=True,
                       autoResumeCount=None, prActedOn=None, prObservedAt=None, prDetails=None)
        moved = _requeue(task, trigger="force_redo", message="redo from scratch", changes=cleared)
        logs.delete_all(task.id)
        return moved

    return _with_retries(task_id, act)


def reorder(body: Any) -> dict[str, int]:
    ids = require_valid(REORDER, body)["taskIds"]
    affected = 0
    for position, task_id in enumerate(ids):
        def move(task: TaskModel, priority: int = position) -> TaskModel:
            return tasks.update(task, {"priority": priority}, utcnow())

        try:
            _with_retries(task_id, move)
            affected += 1
        except NotFound:
            continue
    return {"affected": affected, "total": len(ids)}


def _bulk(states: Iterable[TaskState], act: Callable[[str], TaskModel]) -> dict[str, int]:
    # States are read in the order tasks move through them, so one that moves on between two
    # reads is found again in a later one (and counted once).
    ids = list(dict.fromkeys(t.id for state in states for t in tasks.all_in_state(state.value)))
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


def dependencies(task_id: str) -> list[TaskModel]:
    task = tasks.get(task_id)
    return tasks.batch([str(d) for d in task.dependsOn or []])


def dependents_of(task_id: str) -> list[TaskModel]:
    tasks.get(task_id)
    return tasks.batch(tasks.dependents(task_id))


def _closure(start: list[str]) -> dict[str, list[str]]:
    """Every dependency edge reachable from `start`, read a level at a time."""
    edges: dict[str, list[str]] = {}
    frontier = list(start)
    while frontier:
        rows = tasks.batch([t for t in frontier if t not in edges])
        frontier = []
        for row in rows:
            edges[row.id] = [str(d) for d in row.dependsOn or []]
            frontier.extend(d for d in edges[row.id] if d not in edges)
    return edges


def add_dependencies(task_id: str, body: Any) -> TaskModel:
    new = require_valid(DEPENDENCIES, body)["dependsOnIds"]

    def act(task: TaskModel) -> TaskModel:
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
        return tasks.set_dependencies(task, current + [d for d in new if d not in current], utcnow())

    moved = _with_retries(task_id, act)
    reconcile(task_id)
    return moved


def remove_dependency(task_id: str, dep_id: str) -> TaskModel:
    def act(task: TaskModel) -> TaskModel:
        current = [str(d) for d in task.dependsOn or []]
        if dep_id not in current:
            raise NotFound(f"task {task_id} does not depend on {dep_id}")
        return tasks.set_dependencies(task, [d for d in current if d != dep_id], utcnow())

    moved = _with_retries(task_id, act)
    reconcile(task_id)
    return moved


def subtasks_of(task_id: str) -> list[TaskModel]:
    tasks.get(task_id)
    return tasks.subtasks(task_id)


def subtask_status(task_id: str) -> subtasks_core.SubtaskStatus:
    return subtasks_core.status([subtask_view(t) for t in subtasks_of(task_id)])


def create_subtask(parent_id: str, body: Any) -> TaskModel:
    given = require_valid(SUBTASK_CREATE, body)
    parent = tasks.get(parent_id)
    if S(parent.state) is S.COMPLETED:
        raise Conflict("a completed task takes no more subtasks", state=parent.state)
    kind = given.get("taskType", "child")
    order = tasks.next_subtask_order(parent.id)
    existing = [subtask_view(t) for t in tasks.subtasks(parent.id)]
    previous = subtasks_core.previous_step(existing, order) if kind == "step" else None
    extra: dict[str, Any] = {
        "parentId": parent.id, "taskType": kind, "subtaskOrder": order,
        # Steps and reviews hold the parent back by default; children run on their own.
        "blocksParent": given.get("blocksParent", kind != "child"),
        "dependsOn": [previous.id] if previous else [],
    }
    if kind in ("step", "review"):
        # A pipeline builds on one branch, and a review reads the parent's work.
        extra["branchName"] = parent.branchName
    task_body = {
        "title": given["title"], "prompt": given["prompt"], "repoId": parent.repoId,
        "repoBranch": parent.repoBranch, "agentType": given.get("agentType") or parent.agentType,
        "priority": given.get("priority", int(parent.priority)),
        "maxRetries": given.get("maxRetries", int(parent.maxRetries)),
    }
    return create_task(task_body, **extra)


def launch_review(task_id: str) -> TaskModel:
    task = tasks.get(task_id)
    if not task.prUrl:
        raise ValidationFailed("the task has no pull request to review",
                               [FieldProblem("prUrl", "the task has not opened a pull request")])
    body = {"title": f"Review: {task.title}"[:200], "prompt": review_prompt(_context(task)),
            "taskType": "review"}
    return create_subtask(task.id, body)


def refuse_for_repo_task(task_id: str, what: str) -> None:
    """`/runs` and `/triggers` belong to blueprints and standalone tasks."""
    task = tasks.get(task_id)
    if task.type == "repo-task":
        raise NotAllowedForType(f"a repo task has no {what}; only blueprints and standalone tasks do",
                                type=task.type)
