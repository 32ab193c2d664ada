"""Start queued tasks in priority order while slots are free.

The plan is pure (`core.dispatch`); the slot itself is taken in the same transaction as the
queued -> provisioning transition, with a condition on the counter, so however many dispatchers
race, a limit is never exceeded: the losers' transactions are cancelled and the tasks stay queued.
"""
from __future__ import annotations

from chalicelib.core.dispatch import Capacity, QueuedTask, plan_dispatch
from chalicelib.core.states import TaskState
from chalicelib.exceptions import NotFound
from chalicelib.observability import logger
from chalicelib.settings import settings
from chalicelib.store import tasks
from chalicelib.store.models import RepoModel, TaskModel

from .clock import utcnow
from .reconciler import reconcile

QUEUE_LOOKAHEAD = 50
CAS_TRIES = 4
DEFAULT_REPO_LIMIT = 2


def _repo_limits(repo_ids: set[str]) -> dict[str, int]:
    return {repo.id: int(repo.maxConcurrentTasks) for repo in RepoModel.batch_get(list(repo_ids))}


def _take_slot(task: TaskModel, limits: tasks.SlotLimits) -> bool:
    """queued -> provisioning with the slot. A task that moved since the queue was read (a new
    priority, a metadata edit) is read again and still started if it waits in the queue; only
    one that left the queue meanwhile is skipped."""
    for _ in range(CAS_TRIES):
        try:
            tasks.transition(
                task, TaskState.PROVISIONING, trigger="dispatcher",
                message="concurrency slot taken", now=utcnow(), limits=limits,
            )
            return True
        except tasks.CapacityFull:
            logger.info("dispatch.capacity_full", extra={"taskId": task.id})
            return False
        except tasks.LostRace:
            try:
                task = tasks.get(task.id)
            except NotFound:
                return False
            if TaskState(task.state) is not TaskState.QUEUED:
                return False
    return False


def dispatch() -> list[str]:
    head = tasks.queue_head(QUEUE_LOOKAHEAD)
    if not head:
        return []
    repo_ids = {task.repoId for task in head}
    repo_limits = _repo_limits(repo_ids)
    global_used, repo_used = tasks.slot_usage(repo_ids)
    queue = [
        QueuedTask(task.id, task.repoId, repo_limits.get(task.repoId, DEFAULT_REPO_LIMIT))
        for task in head
    ]
    plan = plan_dispatch(queue, Capacity(global_used, settings.max_concurrent, repo_used))
    by_id = {task.id: task for task in head}
    started: list[str] = []
    for chosen in plan:
        limits = tasks.SlotLimits(settings.max_concurrent, chosen.repo_limit)
        if not _take_slot(by_id[chosen.id], limits):
            continue
        started.append(chosen.id)
        # Launch at once, before the next slot is taken, so that no task's launch waits for the
        # others' slots, nor for the provisioning record to come back on the stream; one task that
        # cannot be launched must not keep the others from it (its record still comes).
        try:
            reconcile(chosen.id)
        except Exception:
            logger.exception("launch after dispatch failed", extra={"taskId": chosen.id})
    return started
