"""The only code that writes the executions table (repo tasks and runs of standalone tasks) and,
with it, their events, dependency edges and concurrency slots.

Every change is a compare-and-swap on `version`. A transition writes its event, and takes or gives
back the execution's concurrency slots (its kind's global counter and its scope's: the repo, or
the standalone task) in the same transaction, so a replayed decision can do neither twice.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.indexes import GlobalSecondaryIndex
from pynamodb.transactions import TransactWrite

from chalicelib.core import accounting
from chalicelib.core.dispatch import SlotLimits, global_slots_key, scope_slots_key
from chalicelib.core.reconcile import ExecutionView, needs_resync
from chalicelib.core.states import (
    LIFECYCLES,
    ExecutionKind,
    State,
    can_transition,
    entry_changes,
    releases_slot,
    takes_slot,
)
from chalicelib.core.timefmt import iso, parse_iso
from chalicelib.exceptions import Conflict, NotFound

from . import rows
from .acting import actor
from .connection import connection
from .models import (
    ACTIVE_PARTITION,
    CounterModel,
    ExecutionEventModel,
    ExecutionModel,
    TaskDependencyModel,
)
from .pages import Page, decode_cursor, page_of

S = State
K = ExecutionKind
_NOUNS = {K.REPO_TASK: "task", K.RUN: "workflow run"}


class LostRace(Conflict):
    """Somebody else moved the row since it was read: re-read and decide again."""


class InvalidTransition(Conflict):
    pass


class CapacityFull(Conflict):
    """A concurrency limit is reached; the execution stays queued."""


def kind_of(row: ExecutionModel) -> ExecutionKind:
    return ExecutionKind(row.type)


def scope_of(row: ExecutionModel) -> str:
    """What the per-scope limit counts: a repo task's repo, a run's standalone task."""
    return str(row.repoId if kind_of(row) is K.REPO_TASK else row.taskConfigId)


def queue_partition(kind: ExecutionKind) -> str:
    return f"queued#{kind.value}"


def get(execution_id: str, kind: ExecutionKind | None = None) -> ExecutionModel:
    """The row, read consistently; NotFound too when it is not of `kind`."""
    row = rows.find(ExecutionModel, execution_id)
    if row is None or (kind is not None and kind_of(row) is not kind):
        raise NotFound(f"{_NOUNS[kind] if kind else 'execution'} {execution_id} not found")
    return row


def view(row: ExecutionModel, budget_usd: float | None = None) -> ExecutionView:
    def when(value: str | None) -> datetime | None:
        return parse_iso(value) if value else None

    return ExecutionView(
        id=row.id,
        kind=kind_of(row),
        state=State(row.state),
        version=int(row.version),
        attempt=int(row.attempt or 0),
        retry_count=int(row.retryCount or 0),
        max_retries=int(row.maxRetries or 0),
        created_at=parse_iso(row.createdAt),
        updated_at=parse_iso(row.updatedAt),
        started_at=when(row.startedAt),
        completed_at=when(row.completedAt),
        launched_at=when(row.launchedAt),
        last_heartbeat_at=when(row.lastHeartbeatAt),
        retryable=row.retryable is not False,
        free_retry=bool(row.freeRetry),
        cost_usd=float(row.costUsd) if row.costUsd is not None else None,
        budget_usd=budget_usd,
    )


def index_fields(row: ExecutionModel, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The sparse index attributes that follow from the row's next state."""
    state = State(fields.get("state", row.state))
    out: dict[str, Any] = {"queuePartition": None, "queueSort": None, "activePartition": None}
    if state is S.QUEUED:
        priority = int(fields.get("priority", row.priority) or 0)
        queued_at = fields.get("queuedAt") or row.queuedAt or row.createdAt
        out["queuePartition"] = queue_partition(kind_of(row))
        out["queueSort"] = f"{priority:04d}#{queued_at}#{row.id}"
    next_view = ExecutionView(
        id=row.id, kind=kind_of(row), state=state, version=0, attempt=0,
        retry_count=int(fields.get("retryCount", row.retryCount) or 0),
        max_retries=int(fields.get("maxRetries", row.maxRetries) or 0),
        created_at=parse_iso(row.createdAt), updated_at=parse_iso(row.createdAt),
        retryable=fields.get("retryable", row.retryable) is not False,
        free_retry=bool(fields.get("freeRetry", row.freeRetry)),
    )
    if needs_resync(next_view):
        out["activePartition"] = ACTIVE_PARTITION
    return out


def _actions(fields: Mapping[str, Any]) -> list[Any]:
    return [getattr(ExecutionModel, name).remove() if value is None else getattr(ExecutionModel, name).set(value)
            for name, value in fields.items()]


def _apply(row: ExecutionModel, fields: Mapping[str, Any]) -> ExecutionModel:
    for name, value in fields.items():
        setattr(row, name, value)
    return row


def event_key(version: int) -> str:
    return f"{version:010d}"


def create(fields: Mapping[str, Any], now: datetime, trigger: str = "api") -> ExecutionModel:
    """The row, its first event and its dependency edges, all or nothing."""
    row = ExecutionModel(**fields)
    if State(row.state) not in LIFECYCLES[kind_of(row)].states:
        raise InvalidTransition(f"a {row.type} cannot start in {row.state}", state=row.state)
    row.version = 0
    row.createdAt = row.updatedAt = iso(now)
    row.createdBy = row.createdBy or actor()
    if State(row.state) is S.QUEUED:
        row.queuedAt = row.createdAt
    _apply(row, index_fields(row, {}))
    event = ExecutionEventModel(
        executionId=row.id, eventKey=event_key(0), toState=row.state, trigger=trigger,
        message=f"{_NOUNS[kind_of(row)]} created", at=row.createdAt, actor=row.createdBy,
    )
    with TransactWrite(connection=connection()) as txn:
        txn.save(row, condition=ExecutionModel.id.does_not_exist())
        txn.save(event)
        for dep_id in row.dependsOn or []:
            txn.save(TaskDependencyModel(dependsOnId=dep_id, taskId=row.id, createdAt=row.createdAt))
    return row


def set_dependencies(row: ExecutionModel, depends_on: list[str], now: datetime) -> ExecutionModel:
    """Replace the task's dependency list and its edges under compare-and-swap."""
    old, new = {str(d) for d in row.dependsOn or []}, set(depends_on)
    fields = {"dependsOn": depends_on or None, "version": int(row.version) + 1, "updatedAt": iso(now)}
    try:
        with TransactWrite(connection=connection()) as txn:
            txn.update(row, actions=_actions(fields), condition=ExecutionModel.version == row.version)
            for dep_id in sorted(new - old):
                txn.save(TaskDependencyModel(dependsOnId=dep_id, taskId=row.id, createdAt=iso(now)))
            for dep_id in sorted(old - new):
                txn.delete(TaskDependencyModel(dep_id, row.id))
    except TransactWriteError as error:
        # Deletes and puts come before updates in the transaction's items.
        _raise_for_cancellation(error, row, row_index=len(new - old) + len(old - new))
    return _apply(row, fields)


def dependents(task_id: str) -> list[str]:
    return [edge.taskId for edge in TaskDependencyModel.query(task_id, consistent_read=True)]


def batch(ids: list[str]) -> list[ExecutionModel]:
    return list(ExecutionModel.batch_get(ids, consistent_read=True)) if ids else []


def subtasks(parent_id: str) -> list[ExecutionModel]:
    rows = ExecutionModel.parent_index.query(parent_id)
    return sorted(rows, key=lambda t: (int(t.subtaskOrder or 0), t.createdAt))


def delete(row: ExecutionModel) -> None:
    """Only a row nobody moved since it was read, and never one with a live agent."""
    slots = LIFECYCLES[kind_of(row)].slot_states
    condition = (ExecutionModel.version == row.version) & ~ExecutionModel.state.is_in(*(s.value for s in slots))
    try:
        with TransactWrite(connection=connection()) as txn:
            txn.delete(row, condition=condition)
            for dep_id in row.dependsOn or []:
                txn.delete(TaskDependencyModel(dep_id, row.id))
    except TransactWriteError as error:
        _raise_for_cancellation(error, row, row_index=0)


def transition(
    row: ExecutionModel,
    to: State,
    *,
    trigger: str,
    message: str,
    now: datetime,
    changes: Mapping[str, Any] | None = None,
    limits: SlotLimits | None = None,
) -> ExecutionModel:
    """Move `row` (as read) to `to`: one transaction that checks the version, writes the event,
    and takes or gives back the concurrency slots. 409 for a transition the kind's states do not
    allow, LostRace when the row moved meanwhile, CapacityFull when a limit is reached."""
    kind, current = kind_of(row), State(row.state)
    if not can_transition(kind, current, to):
        raise InvalidTransition(f"cannot go from {current.value} to {to.value}", state=current.value)
    now_iso = iso(now)
    fields: dict[str, Any] = dict(entry_changes(kind, current, to, now_iso))
    taking, giving_back = takes_slot(kind, current, to), releases_slot(kind, current, to)
    if taking:
        if limits is None:
            raise ValueError("taking a concurrency slot needs the limits")
        # A new attempt: its number names the runner's token and the agent's pod.
        fields.update(attempt=int(row.attempt or 0) + 1, slotScope=scope_slots_key(kind, scope_of(row)),
                      warmPod=None)
        fields.update(accounting.attempt_start(accounting.figures(row)))
    if giving_back:
        fields["slotScope"] = None
    fields.update(changes or {})
    fields.update(state=to.value, version=int(row.version) + 1, updatedAt=now_iso)
    fields.update(index_fields(row, fields))
    event = ExecutionEventModel(
        executionId=row.id, eventKey=event_key(fields["version"]), fromState=current.value,
        toState=to.value, trigger=trigger, message=message, at=now_iso, actor=actor(),
    )
    # Item order in the transaction (puts, then updates): event, row, global slots, scope slots.
    try:
        with TransactWrite(connection=connection()) as txn:
            txn.save(event)
            txn.update(row, actions=_actions(fields), condition=ExecutionModel.version == row.version)
            if taking and limits is not None:
                _take(txn, global_slots_key(kind), limits.global_limit)
                _take(txn, fields["slotScope"], limits.scope_limit)
            if giving_back:
                _release(txn, global_slots_key(kind))
                _release(txn, row.slotScope or scope_slots_key(kind, scope_of(row)))
    except TransactWriteError as error:
        _raise_for_cancellation(error, row)
    return _apply(row, fields)


def _take(txn: TransactWrite, key: str, limit: int) -> None:
    condition = CounterModel.value.does_not_exist() | (CounterModel.value < limit)
    txn.update(CounterModel(key), actions=[CounterModel.value.add(1)], condition=condition)


def _release(txn: TransactWrite, key: str) -> None:
    txn.update(CounterModel(key), actions=[CounterModel.value.add(-1)])


# A transaction's cancellation reasons when one of its items was throttled.
THROTTLED = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded"})


def _raise_for_cancellation(error: TransactWriteError, row: ExecutionModel, row_index: int = 1) -> None:
    codes = [reason.code if reason else None for reason in error.cancellation_reasons]
    if len(codes) > row_index and codes[row_index] == "ConditionalCheckFailed":
        raise LostRace(f"{row.type} {row.id} changed meanwhile", state=row.state) from None
    if any(code == "ConditionalCheckFailed" for code in codes[row_index + 1:]):
        raise CapacityFull("concurrency limit reached") from None
    if "TransactionConflict" in codes:
        raise LostRace(f"{row.type} {row.id} is being changed concurrently", state=row.state) from None
    if THROTTLED.intersection(codes):
        # Cancelled whole, as a conflict is, and no client retries a cancelled transaction: the
        # caller reads again and decides again, as after a conflict.
        raise LostRace(f"{row.type} {row.id}'s change was throttled", state=row.state) from None
    raise error


def update(row: ExecutionModel, changes: Mapping[str, Any], now: datetime) -> ExecutionModel:
    """A field change that is not a state change, still under compare-and-swap."""
    fields = dict(changes)
    fields.update(version=int(row.version) + 1, updatedAt=iso(now))
    fields.update(index_fields(row, fields))
    try:
        row.update(actions=_actions(fields), condition=ExecutionModel.version == row.version)
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise LostRace(f"{row.type} {row.id} changed meanwhile", state=row.state) from None
        raise
    return row


def update_in(txn: TransactWrite, row: ExecutionModel, changes: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """`update` as one item of the caller's transaction (its first, for `LostRace` to be told
    apart: `raise_for_cancellation`); the fields to `apply_fields` once it committed."""
    fields = dict(changes)
    fields.update(version=int(row.version) + 1, updatedAt=iso(now))
    fields.update(index_fields(row, fields))
    txn.update(row, actions=_actions(fields), condition=ExecutionModel.version == row.version)
    return fields


def raise_for_cancellation(error: TransactWriteError, row: ExecutionModel) -> None:
    """LostRace when the row (the transaction's first item) moved; CapacityFull when another
    item's condition failed."""
    _raise_for_cancellation(error, row, row_index=0)


def apply_fields(row: ExecutionModel, fields: Mapping[str, Any]) -> ExecutionModel:
    return _apply(row, fields)


def record_progress(execution_id: str, attempt: int, changes: Mapping[str, Any]) -> bool:
    """Heartbeats and running cost. Deliberately not a version bump: the stream handler ignores
    rows whose version did not move, so heartbeats never wake the executor. False when the
    attempt is no longer the running one."""
    condition = (ExecutionModel.state == S.RUNNING.value) & (ExecutionModel.attempt == attempt)
    try:
        ExecutionModel(execution_id).update(actions=_actions(changes), condition=condition)
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def next_subtask_order(parent_id: str) -> int:
    counter = CounterModel(f"subtasks#{parent_id}")
    counter.update(actions=[CounterModel.value.add(1)])
    return int(counter.value)


def in_repo(repo_id: str, states: list[str]) -> list[ExecutionModel]:
    return list(ExecutionModel.repo_index.query(repo_id, filter_condition=ExecutionModel.state.is_in(*states)))


def all_in_state(kind: ExecutionKind, state: State) -> Iterator[ExecutionModel]:
    return ExecutionModel.state_index.query(state.value, filter_condition=ExecutionModel.type == kind.value)


def queue_head(kind: ExecutionKind, limit: int) -> list[ExecutionModel]:
    return list(ExecutionModel.queue_index.query(queue_partition(kind), limit=limit))


def active_ids() -> Iterator[str]:
    for row in ExecutionModel.active_index.query(ACTIVE_PARTITION):
        yield row.id


def load() -> tuple[int, int]:
    """(executions queued, slots taken) over every kind: the queue's depth and the agents running."""
    queued = sum(ExecutionModel.queue_index.count(queue_partition(kind)) for kind in ExecutionKind)
    running = sum(slot_usage(kind, set())[0] for kind in ExecutionKind)
    return queued, running


def slot_usage(kind: ExecutionKind, scopes: set[str]) -> tuple[int, dict[str, int]]:
    keys = [global_slots_key(kind), *(scope_slots_key(kind, scope) for scope in scopes)]
    values = {c.key: int(c.value or 0) for c in CounterModel.batch_get(keys)}
    return values.get(global_slots_key(kind), 0), {s: values.get(scope_slots_key(kind, s), 0) for s in scopes}


def walk_tasks(*, state: str | None, repo_id: str | None, descending: bool,
               after: tuple[str, str] | None = None) -> Iterator[ExecutionModel]:
    """Repo tasks in creation order (newest first when `descending`), from the index of the
    filters given, strictly after the task at `after` (its createdAt and id), read a page at a time
    as the caller goes on."""
    condition: Condition | None
    index: GlobalSecondaryIndex[ExecutionModel]
    if repo_id:
        index, partition, name = ExecutionModel.repo_index, repo_id, "repoId"
        condition = ExecutionModel.state == state if state else None
    elif state:
        # Runs of standalone tasks share the state index.
        index, partition, name = ExecutionModel.state_index, state, "state"
        condition = ExecutionModel.type == K.REPO_TASK.value
    else:
        index, partition, name = ExecutionModel.type_index, K.REPO_TASK.value, "type"
        condition = None
    # An index's start key is the table's key and the index's: the partition queried and the
    # position, whether or not that task is still there.
    start = {"id": {"S": after[1]}, name: {"S": partition}, "createdAt": {"S": after[0]}} if after else None
    return iter(index.query(partition, filter_condition=condition, scan_index_forward=not descending,
                            last_evaluated_key=start, page_size=200))


def of_config(config_id: str, limit: int, cursor: str | None) -> Page[ExecutionModel]:
    """The runs of a blueprint or standalone task, newest first."""
    return page_of(ExecutionModel.config_run_index.query(config_id, scan_index_forward=False, limit=limit,
                                                       last_evaluated_key=decode_cursor(cursor)))


def events(execution_id: str) -> list[ExecutionEventModel]:
    return list(ExecutionEventModel.query(execution_id, consistent_read=True))


def import_row(row: ExecutionModel) -> bool:
    """Write a row an older version kept elsewhere (`store.legacy`), as it was, with the index
    attributes of this version; False when the execution is here already (a migration run
    again after an interruption)."""
    _apply(row, index_fields(row, {}))
    try:
        row.save(condition=ExecutionModel.id.does_not_exist())
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def import_event(event: ExecutionEventModel) -> None:
    """An event as an older version wrote it; keyed by version, so writing it again changes nothing."""
    event.save()
