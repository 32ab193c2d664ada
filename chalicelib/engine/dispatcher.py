"""Start queued executions in start order while slots are free: repo tasks and runs alike, each
kind in its own queue within its own limits.

The plan is pure (`core.dispatch`); the slot itself is taken in the same transaction as the
transition into the kind's launch state, with a condition on the counters, so however many
dispatchers race, a limit is never exceeded: the losers' transactions are cancelled and the
executions stay queued.
"""
from __future__ import annotations

from chalicelib.core.actions import Transition
from chalicelib.core.dispatch import Capacity, Queued, SlotLimits, plan_dispatch
from chalicelib.core.requests import Trigger
from chalicelib.core.states import LIFECYCLES, ExecutionKind, State
from chalicelib.exceptions import NotFound
from chalicelib.observability import logger
from chalicelib.store import executions
from chalicelib.store.models import ExecutionModel

from .executor import apply, reconcile
from .limits import global_limit, scope_limits

QUEUE_LOOKAHEAD = 50
CAS_TRIES = 4


def _take_slot(row: ExecutionModel, limits: SlotLimits) -> bool:
    """queued -> the launch state, with the slot. An execution that moved since the queue was
    read (a new priority, a metadata edit) is read again and still started if it waits in the
    queue; only one that left the queue meanwhile is skipped."""
    launch_state = LIFECYCLES[executions.kind_of(row)].launch_state
    for _ in range(CAS_TRIES):
        try:
            apply(row, Transition(to=launch_state, reason="concurrency slot taken"), Trigger.DISPATCHER.value,
                  limits=limits)
            return True
        except executions.CapacityFull:
            logger.info("dispatch.capacity_full", extra={"executionId": row.id})
            return False
        except executions.LostRace:
            try:
                row = executions.get(row.id)
            except NotFound:
                return False
            if State(row.state) is not State.QUEUED:
                return False
    return False


def dispatch() -> list[str]:
    """Both queues; one kind's full limits never hold the other back."""
    return [started for kind in ExecutionKind for started in dispatch_kind(kind)]


def dispatch_kind(kind: ExecutionKind) -> list[str]:
    head = executions.queue_head(kind, QUEUE_LOOKAHEAD)
    if not head:
        return []
    scopes = {executions.scope_of(row) for row in head}
    limits = scope_limits(kind, scopes)
    global_used, scope_used = executions.slot_usage(kind, scopes)
    queue = [Queued(row.id, executions.scope_of(row), limits[executions.scope_of(row)]) for row in head]
    plan = plan_dispatch(queue, Capacity(global_used, global_limit(kind), scope_used))
    by_id = {row.id: row for row in head}
    started: list[str] = []
    for chosen in plan:
        if not _take_slot(by_id[chosen.id], SlotLimits(global_limit(kind), chosen.scope_limit)):
            continue
        started.append(chosen.id)
        # Launch at once, before the next slot is taken, so that no launch waits for the others'
        # slots, nor for the new record to come back on the stream; one that cannot be launched
        # must not keep the others from it (its record still comes).
        try:
            reconcile(chosen.id)
        except Exception:
            logger.exception("launch after dispatch failed", extra={"executionId": chosen.id})
    return started
