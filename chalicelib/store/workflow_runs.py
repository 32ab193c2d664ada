"""The only code that writes the workflow-runs table: runs of standalone tasks. Every change of
state is a compare-and-swap on `version`; a run takes its concurrency slots (the counters table,
as repo tasks do) in the same transaction as queued -> running and gives them back in the same
transaction as leaving running, so a replayed decision can neither double-start nor double-release."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib import observability
from chalicelib.core import accounting
from chalicelib.core.timefmt import iso, parse_iso
from chalicelib.core.workflow_runs import SLOT_STATES, RunState, RunView, can_transition, retry_pending
from chalicelib.exceptions import Conflict, NotFound
from chalicelib.observability import logger

from .connection import connection
from .models import ACTIVE_PARTITION, CounterModel, WorkflowRunModel
from .pages import Page, decode_cursor, encode_cursor
from .tasks import _release, _take

QUEUE_PARTITION = "queued"
GLOBAL_SLOTS = "slots#workflow#global"


class LostRace(Exception):
    """The run changed since it was read: re-read and decide again."""


class CapacityFull(Conflict):
    """A concurrency limit is reached; the run stays queued."""


@dataclass(frozen=True)
class SlotLimits:
    global_limit: int
    config_limit: int


def config_slots_key(config_id: str) -> str:
    return f"slots#workflow#config#{config_id}"


def get(run_id: str) -> WorkflowRunModel:
    try:
        return WorkflowRunModel.get(run_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound(f"workflow run {run_id} not found") from None


def view(run: WorkflowRunModel, budget_usd: float | None = None) -> RunView:
    def when(value: str | None) -> datetime | None:
        return parse_iso(value) if value else None

    return RunView(
        id=run.id, state=RunState(run.state), attempt=int(run.attempt or 0),
        retry_count=int(run.retryCount or 0), max_retries=int(run.maxRetries or 0),
        updated_at=parse_iso(run.updatedAt), retryable=run.retryable is not False,
        started_at=when(run.startedAt), finished_at=when(run.finishedAt), launched_at=when(run.launchedAt),
        last_heartbeat_at=when(run.lastHeartbeatAt),
        cost_usd=float(run.costUsd) if run.costUsd is not None else None, budget_usd=budget_usd,
    )


def _index_fields(run: WorkflowRunModel, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The sparse index attributes that follow from the row's next state."""
    state = RunState(fields.get("state", run.state))
    next_view = RunView(
        id=run.id, state=state, attempt=0, retry_count=int(fields.get("retryCount", run.retryCount or 0)),
        max_retries=int(fields.get("maxRetries", run.maxRetries or 0)), updated_at=parse_iso(run.updatedAt),
        retryable=fields.get("retryable", run.retryable) is not False,
    )
    active = state is RunState.RUNNING or retry_pending(next_view)
    return {"queuePartition": QUEUE_PARTITION if state is RunState.QUEUED else None,
            "activePartition": ACTIVE_PARTITION if active else None}


def _actions(fields: Mapping[str, Any]) -> list[Any]:
    return [getattr(WorkflowRunModel, name).remove() if value is None else getattr(WorkflowRunModel, name).set(value)
            for name, value in fields.items()]


def _apply(run: WorkflowRunModel, fields: Mapping[str, Any]) -> WorkflowRunModel:
    for name, value in fields.items():
        setattr(run, name, value)
    return run


def create(fields: Mapping[str, Any], now: datetime) -> WorkflowRunModel:
    run = WorkflowRunModel(**fields)
    run.state = RunState.QUEUED.value
    run.version = 0
    run.createdAt = run.updatedAt = iso(now)
    _apply(run, _index_fields(run, {}))
    run.save(condition=WorkflowRunModel.id.does_not_exist())
    return run


def _entry_changes(run: WorkflowRunModel, target: RunState, at: str) -> dict[str, Any]:
    if target is RunState.QUEUED:
        # A new attempt starts clean: the previous one's outcome and timestamps go.
        return {"errorMessage": None, "errorKind": None, "output": None, "startedAt": None, "finishedAt": None,
                "launchedAt": None, "lastHeartbeatAt": None, "retryable": True}
    if target is RunState.RUNNING:
        return {"startedAt": at, "attempt": int(run.attempt or 0) + 1, "launchedAt": None, "lastHeartbeatAt": None,
                **accounting.attempt_start(accounting.figures(run))}
    return {"finishedAt": at}


def transition(run: WorkflowRunModel, target: RunState, now: datetime, changes: Mapping[str, Any] | None = None,
               *, limits: SlotLimits | None = None, trigger: str = "api", reason: str = "") -> WorkflowRunModel:
    """`run` as read -> `target`, in one transaction with the slots it takes or gives back: 409 for
    a transition the states do not allow, LostRace when the run moved meanwhile, CapacityFull
    when a limit is reached."""
    current = RunState(run.state)
    if not can_transition(current, target):
        raise Conflict(f"cannot move a {current} run to {target}", state=current.value)
    at = iso(now)
    fields: dict[str, Any] = _entry_changes(run, target, at)
    fields.update(changes or {})
    fields.update(state=target.value, updatedAt=at, version=int(run.version) + 1)
    fields.update(_index_fields(run, fields))
    takes_slot = current not in SLOT_STATES and target in SLOT_STATES
    releases_slot = current in SLOT_STATES and target not in SLOT_STATES
    if takes_slot and limits is None:
        raise ValueError("taking a concurrency slot needs the limits")
    # Item order (all updates): the run, then the global and the per-task counters.
    try:
        with TransactWrite(connection=connection()) as txn:
            txn.update(run, actions=_actions(fields), condition=WorkflowRunModel.version == run.version)
            if takes_slot and limits is not None:
                _take(txn, GLOBAL_SLOTS, limits.global_limit)
                _take(txn, config_slots_key(run.taskConfigId), limits.config_limit)
            if releases_slot:
                _release(txn, GLOBAL_SLOTS)
                _release(txn, config_slots_key(run.taskConfigId))
    except TransactWriteError as error:
        codes = [reason.code if reason else None for reason in error.cancellation_reasons]
        if codes and codes[0] == "ConditionalCheckFailed" or "TransactionConflict" in codes:
            raise LostRace(run.id) from None
        if "ConditionalCheckFailed" in codes[1:]:
            raise CapacityFull("workflow concurrency limit reached") from None
        raise
    logger.info("workflow_run.transition", extra={
        "runId": run.id, "taskConfigId": run.taskConfigId, "from": current.value, "to": target.value,
        "trigger": trigger, "version": fields["version"], "attempt": fields.get("attempt", run.attempt),
        "reason": reason,
    })
    cost = fields.get("costUsd") if current is RunState.RUNNING else None
    observability.run_transition(target.value, float(cost) if cost is not None else None)
    return _apply(run, fields)


def update(run: WorkflowRunModel, changes: Mapping[str, Any], now: datetime) -> WorkflowRunModel:
    """A field change that is not a state change, still under compare-and-swap."""
    fields = {**changes, "version": int(run.version) + 1, "updatedAt": iso(now)}
    try:
        run.update(actions=_actions(fields), condition=WorkflowRunModel.version == run.version)
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise LostRace(run.id) from None
        raise
    return run


def record_progress(run_id: str, attempt: int, changes: Mapping[str, Any]) -> bool:
    """Heartbeats and running cost, without a version bump (nothing to decide on most of them).
    False when the attempt is no longer the running one."""
    condition = (WorkflowRunModel.state == RunState.RUNNING.value) & (WorkflowRunModel.attempt == attempt)
    try:
        WorkflowRunModel(run_id).update(actions=_actions(changes), condition=condition)
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def queue_head(limit: int) -> list[WorkflowRunModel]:
    """Queued runs, oldest first, from the sparse queue index."""
    return list(WorkflowRunModel.queue_index.query(QUEUE_PARTITION, limit=limit))


def active_ids() -> Iterator[str]:
    for row in WorkflowRunModel.active_index.query(ACTIVE_PARTITION):
        yield row.id


def slot_usage(config_ids: set[str]) -> tuple[int, dict[str, int]]:
    keys = [GLOBAL_SLOTS, *(config_slots_key(config_id) for config_id in config_ids)]
    values = {c.key: int(c.value or 0) for c in CounterModel.batch_get(keys)}
    return values.get(GLOBAL_SLOTS, 0), {c: values.get(config_slots_key(c), 0) for c in config_ids}


def of_config(config_id: str, limit: int, cursor: str | None) -> Page[WorkflowRunModel]:
    query = WorkflowRunModel.config_index.query(
        config_id, scan_index_forward=False, limit=limit, last_evaluated_key=decode_cursor(cursor)
    )
    items = list(query)
    last_key = query.last_evaluated_key
    return Page(items=items, next_cursor=encode_cursor(last_key) if last_key else None)
