"""The only code that writes the tasks table (and, with it, events and slot counters)."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib import observability
from chalicelib.core import accounting
from chalicelib.core.reconcile import TaskView, retry_pending
from chalicelib.core.states import SLOT_STATES, TaskState, can_transition, entry_changes
from chalicelib.core.timefmt import iso, parse_iso
from chalicelib.exceptions import Conflict, NotFound
from chalicelib.observability import logger

from .connection import connection
from .models import (
    ACTIVE_PARTITION,
    QUEUE_PARTITION,
    CounterModel,
    TaskDependencyModel,
    TaskEventModel,
    TaskModel,
)
from .pages import Page, decode_cursor, encode_cursor

S = TaskState
GLOBAL_SLOTS = "slots#global"

# States in which the reconciler may still have something to do on its own.
_RECONCILED_STATES = frozenset(
    {S.PENDING, S.WAITING_ON_DEPS, S.QUEUED, S.PROVISIONING, S.RUNNING, S.PR_OPENED}
)


class LostRace(Conflict):
    """Somebody else moved the row since it was read: re-read and decide again."""


class InvalidTransition(Conflict):
    pass


class CapacityFull(Conflict):
    """A concurrency limit is reached; the task stays queued."""


@dataclass(frozen=True)
class SlotLimits:
    global_limit: int
    repo_limit: int


def repo_slots_key(repo_id: str) -> str:
    return f"slots#repo#{repo_id}"


def get(task_id: str) -> TaskModel:
    try:
        return TaskModel.get(task_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound(f"task {task_id} not found") from None


def view(task: TaskModel) -> TaskView:
    def when(value: str | None) -> datetime | None:
        return parse_iso(value) if value else None

    return TaskView(
        id=task.id,
        state=TaskState(task.state),
        version=int(task.version),
        attempt=int(task.attempt),
        retry_count=int(task.retryCount),
        max_retries=int(task.maxRetries),
        created_at=parse_iso(task.createdAt),
        updated_at=parse_iso(task.updatedAt),
        started_at=when(task.startedAt),
        completed_at=when(task.completedAt),
        launched_at=when(task.launchedAt),
        last_heartbeat_at=when(task.lastHeartbeatAt),
        retryable=bool(task.retryable),
        free_retry=bool(task.freeRetry),
    )


def _index_fields(task: TaskModel, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The sparse index attributes that follow from the row's next state."""
    state = TaskState(fields.get("state", task.state))
    out: dict[str, Any] = {"queuePartition": None, "queueSort": None, "activePartition": None}
    if state is S.QUEUED:
        priority = int(fields.get("priority", task.priority))
        queued_at = fields.get("queuedAt") or task.queuedAt or task.createdAt
        out["queuePartition"] = QUEUE_PARTITION
        out["queueSort"] = f"{priority:04d}#{queued_at}#{task.id}"
    next_view = TaskView(
        id=task.id,
        state=state,
        version=0,
        attempt=0,
        retry_count=int(fields.get("retryCount", task.retryCount)),
        max_retries=int(fields.get("maxRetries", task.maxRetries)),
        created_at=parse_iso(task.createdAt),
        updated_at=parse_iso(task.createdAt),
        retryable=bool(fields.get("retryable", task.retryable)),
        free_retry=bool(fields.get("freeRetry", task.freeRetry)),
    )
    if state in _RECONCILED_STATES or retry_pending(next_view):
        out["activePartition"] = ACTIVE_PARTITION
    return out


def _actions(fields: Mapping[str, Any]) -> list[Any]:
    actions = []
    for name, value in fields.items():
        attribute = getattr(TaskModel, name)
        actions.append(attribute.remove() if value is None else attribute.set(value))
    return actions


def _apply(task: TaskModel, fields: Mapping[str, Any]) -> TaskModel:
    for name, value in fields.items():
        setattr(task, name, value)
    return task


def create(fields: Mapping[str, Any], now: datetime, trigger: str = "api") -> TaskModel:
    """The row, its first event and its dependency edges, all or nothing."""
    task = TaskModel(**fields)
    task.version = 0
    task.createdAt = task.updatedAt = iso(now)
    _apply(task, _index_fields(task, {}))
    event = TaskEventModel(
        taskId=task.id, eventKey=_event_key(0), toState=task.state, trigger=trigger,
        message="task created", at=task.createdAt,
    )
    with TransactWrite(connection=connection()) as txn:
        txn.save(task, condition=TaskModel.id.does_not_exist())
        txn.save(event)
        for dep_id in task.dependsOn or []:
            txn.save(TaskDependencyModel(dependsOnId=dep_id, taskId=task.id, createdAt=task.createdAt))
    return task


def set_dependencies(task: TaskModel, depends_on: list[str], now: datetime) -> TaskModel:
    """Replace the task's dependency list and its edges under compare-and-swap."""
    old, new = {str(d) for d in task.dependsOn or []}, set(depends_on)
    fields = {"dependsOn": depends_on or None, "version": int(task.version) + 1, "updatedAt": iso(now)}
    try:
        with TransactWrite(connection=connection()) as txn:
            txn.update(task, actions=_actions(fields), condition=TaskModel.version == task.version)
            for dep_id in sorted(new - old):
                txn.save(TaskDependencyModel(dependsOnId=dep_id, taskId=task.id, createdAt=iso(now)))
            for dep_id in sorted(old - new):
                txn.delete(TaskDependencyModel(dep_id, task.id))
    except TransactWriteError as error:
        # Deletes and puts come before updates in the transaction's items.
        index = len(new - old) + len(old - new)
        _raise_for_cancellation(error, task, TaskState(task.state), task_index=index)
    return _apply(task, fields)


def dependents(task_id: str) -> list[str]:
    return [edge.taskId for edge in TaskDependencyModel.query(task_id, consistent_read=True)]


def batch(task_ids: list[str]) -> list[TaskModel]:
    return list(TaskModel.batch_get(task_ids, consistent_read=True)) if task_ids else []


def subtasks(parent_id: str) -> list[TaskModel]:
    rows = TaskModel.parent_index.query(parent_id)
    return sorted(rows, key=lambda t: (int(t.subtaskOrder or 0), t.createdAt))


def delete(task: TaskModel) -> None:
    """Only a row nobody moved since it was read, and never one with a live agent."""
    condition = (TaskModel.version == task.version) & ~TaskModel.state.is_in(
        *(state.value for state in SLOT_STATES)
    )
    try:
        with TransactWrite(connection=connection()) as txn:
            txn.delete(task, condition=condition)
            for dep_id in task.dependsOn or []:
                txn.delete(TaskDependencyModel(dep_id, task.id))
    except TransactWriteError as error:
        _raise_for_cancellation(error, task, TaskState(task.state), task_index=0)


def _event_key(version: int) -> str:
    return f"{version:010d}"


def transition(
    task: TaskModel,
    to: TaskState,
    *,
    trigger: str,
    message: str,
    now: datetime,
    changes: Mapping[str, Any] | None = None,
    limits: SlotLimits | None = None,
) -> TaskModel:
    """Move `task` (as read) to `to`: one transaction that checks the version, writes the event,
    and takes or releases the concurrency slot, so a replayed decision can do neither twice."""
    current = TaskState(task.state)
    if not can_transition(current, to):
        raise InvalidTransition(
            f"cannot go from {current.value} to {to.value}", state=current.value
        )
    now_iso = iso(now)
    fields: dict[str, Any] = dict(entry_changes(to, now_iso))
    fields.update(changes or {})
    fields.update(state=to.value, version=int(task.version) + 1, updatedAt=now_iso)
    takes_slot = current not in SLOT_STATES and to in SLOT_STATES
    releases_slot = current in SLOT_STATES and to not in SLOT_STATES
    if to is S.PROVISIONING:
        fields.update(attempt=int(task.attempt) + 1, launchedAt=None)
        fields.update(accounting.attempt_start(accounting.figures(task)))
    if takes_slot:
        if limits is None:
            raise ValueError("taking a concurrency slot needs the limits")
        fields["slotRepoId"] = task.repoId
    if releases_slot:
        fields["slotRepoId"] = None
    fields.update(_index_fields(task, fields))

    event = TaskEventModel(
        taskId=task.id, eventKey=_event_key(fields["version"]), fromState=current.value,
        toState=to.value, trigger=trigger, message=message, at=now_iso,
    )
    # Item order in the transaction (puts, then updates): event, task, global slots, repo slots.
    try:
        with TransactWrite(connection=connection()) as txn:
            txn.save(event)
            txn.update(task, actions=_actions(fields), condition=TaskModel.version == task.version)
            if takes_slot and limits is not None:
                _take(txn, GLOBAL_SLOTS, limits.global_limit)
                _take(txn, repo_slots_key(task.repoId), limits.repo_limit)
            if releases_slot:
                _release(txn, GLOBAL_SLOTS)
                _release(txn, repo_slots_key(task.slotRepoId or task.repoId))
    except TransactWriteError as error:
        _raise_for_cancellation(error, task, to)
    logger.info("task.transition", extra={
        "taskId": task.id, "from": current.value, "to": to.value, "trigger": trigger,
        "reason": message, "version": fields["version"], "attempt": fields.get("attempt", task.attempt),
    })
    started = to is S.RUNNING and current is S.PROVISIONING
    to_start_ms = (now - parse_iso(task.createdAt)).total_seconds() * 1000 if started else None
    cost = fields.get("costUsd") if current is S.RUNNING else None
    observability.task_transition(to.value, to_start_ms, float(cost) if cost is not None else None)
    return _apply(task, fields)


def _take(txn: TransactWrite, key: str, limit: int) -> None:
    condition = CounterModel.value.does_not_exist() | (CounterModel.value < limit)
    txn.update(CounterModel(key), actions=[CounterModel.value.add(1)], condition=condition)


def _release(txn: TransactWrite, key: str) -> None:
    txn.update(CounterModel(key), actions=[CounterModel.value.add(-1)])


def _raise_for_cancellation(
    error: TransactWriteError, task: TaskModel, to: TaskState, task_index: int = 1
) -> None:
    codes = [reason.code if reason else None for reason in error.cancellation_reasons]
    if len(codes) > task_index and codes[task_index] == "ConditionalCheckFailed":
        raise LostRace(f"task {task.id} changed meanwhile", state=task.state) from None
    if any(code == "ConditionalCheckFailed" for code in codes[task_index + 1:]):
        raise CapacityFull("concurrency limit reached") from None
    if "TransactionConflict" in codes:
        raise LostRace(f"task {task.id} is being changed concurrently", state=task.state) from None
    raise error


def update(task: TaskModel, changes: Mapping[str, Any], now: datetime) -> TaskModel:
    """A field change that is not a state change, still under compare-and-swap."""
    fields = dict(changes)
    fields.update(version=int(task.version) + 1, updatedAt=iso(now))
    fields.update(_index_fields(task, fields))
    try:
        task.update(actions=_actions(fields), condition=TaskModel.version == task.version)
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise LostRace(f"task {task.id} changed meanwhile", state=task.state) from None
        raise
    return task


def record_progress(task_id: str, attempt: int, changes: Mapping[str, Any]) -> bool:
    """Heartbeats and running cost. Deliberately not a version bump: the stream handler ignores
    rows whose version did not move, so heartbeats never wake the reconciler. False when the
    attempt is no longer the running one."""
    condition = (TaskModel.state == S.RUNNING.value) & (TaskModel.attempt == attempt)
    try:
        TaskModel(task_id).update(actions=_actions(changes), condition=condition)
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def next_subtask_order(parent_id: str) -> int:
    counter = CounterModel(f"subtasks#{parent_id}")
    counter.update(actions=[CounterModel.value.add(1)])
    return int(counter.value)


def in_repo(repo_id: str, states: list[str]) -> list[TaskModel]:
    return list(TaskModel.repo_index.query(repo_id, filter_condition=TaskModel.state.is_in(*states)))


def all_in_state(state: str) -> Iterator[TaskModel]:
    return TaskModel.state_index.query(state)


def queue_head(limit: int) -> list[TaskModel]:
    return list(TaskModel.queue_index.query(QUEUE_PARTITION, limit=limit))


def active_ids() -> Iterator[str]:
    for row in TaskModel.active_index.query(ACTIVE_PARTITION):
        yield row.id


def slot_usage(repo_ids: set[str]) -> tuple[int, dict[str, int]]:
    keys = [GLOBAL_SLOTS, *(repo_slots_key(repo_id) for repo_id in repo_ids)]
    values = {c.key: int(c.value or 0) for c in CounterModel.batch_get(keys)}
    repo_used = {repo_id: values.get(repo_slots_key(repo_id), 0) for repo_id in repo_ids}
    return values.get(GLOBAL_SLOTS, 0), repo_used


def list_tasks(
    *, state: str | None, repo_id: str | None, task_type: str, limit: int, cursor: str | None
) -> Page[TaskModel]:
    start = decode_cursor(cursor)
    query: Iterator[TaskModel]
    if repo_id:
        condition = TaskModel.state == state if state else None
        query = TaskModel.repo_index.query(
            repo_id, filter_condition=condition, scan_index_forward=False, limit=limit,
            last_evaluated_key=start,
        )
    elif state:
        query = TaskModel.state_index.query(
            state, scan_index_forward=False, limit=limit, last_evaluated_key=start
        )
    else:
        query = TaskModel.type_index.query(
            task_type, scan_index_forward=False, limit=limit, last_evaluated_key=start
        )
    items = list(query)
    last_key = getattr(query, "last_evaluated_key", None)
    return Page(items=items, next_cursor=encode_cursor(last_key) if last_key else None)


def events(task_id: str) -> list[TaskEventModel]:
    return list(TaskEventModel.query(task_id, consistent_read=True))
