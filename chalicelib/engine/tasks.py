"""Task actions behind the API: create, cancel, retry."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from chalicelib.core.naming import branch_name
from chalicelib.core.schemas import AGENT_ALIASES, TASK_CREATE, TASK_DEFAULT_MAX_RETRIES
from chalicelib.core.states import CANCELLABLE, SLOT_STATES, TaskState
from chalicelib.exceptions import Conflict
from chalicelib.launch import get_launcher
from chalicelib.store import tasks
from chalicelib.store.models import TaskModel

from .clock import utcnow
from .repos import resolve_repo
from .validation import require_valid

S = TaskState
CAS_TRIES = 4


def create_task(body: Any) -> TaskModel:
    given = require_valid(TASK_CREATE, body)
    repo = resolve_repo(given)
    task_id = str(uuid.uuid4())
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
    }
    return tasks.create(fields, utcnow())


def _with_retries(task_id: str, act: Callable[[TaskModel], TaskModel]) -> TaskModel:
    for _ in range(CAS_TRIES):
        task = tasks.get(task_id)
        try:
            return act(task)
        except tasks.LostRace:
            continue
    raise Conflict(f"task {task_id} kept changing; try again")


def cancel_task(task_id: str) -> TaskModel:
    def act(task: TaskModel) -> TaskModel:
        state = S(task.state)
        if state not in CANCELLABLE:
            raise Conflict(f"a {state.value} task cannot be cancelled", state=state.value)
        attempt = int(task.attempt)
        moved = tasks.transition(
            task, S.CANCELLED, trigger="user", message="cancelled by user", now=utcnow()
        )
        if state in SLOT_STATES:
            # Stop at once; the reconciler stops it too if this call is lost.
            get_launcher().cancel(task.id, attempt)
        return moved

    return _with_retries(task_id, act)


def retry_task(task_id: str) -> TaskModel:
    def act(task: TaskModel) -> TaskModel:
        state = S(task.state)
        if state not in (S.FAILED, S.CANCELLED):
            raise Conflict(f"only failed or cancelled tasks can be retried, not {state.value}",
                           state=state.value)
        # A manual retry gives the task its automatic retries back.
        return tasks.transition(
            task, S.QUEUED, trigger="user", message="retried by user", now=utcnow(),
            changes={"retryCount": 0},
        )

    return _with_retries(task_id, act)
