"""Wake-ups at a due time: an automatic retry that is due, the moment a silent agent counts as
stalled, an agent's provisioning deadline, a refused launch tried again.

On AWS a Step Functions standard workflow waits for each (a `Wait` state on a timestamp: second
precision; EventBridge Scheduler fires within a minute) and then invokes the `execution_timer`
function, which reconciles the execution. Locally the stack runs in-process timers
(`chalicelib.local.timers`). Either way the resync stays the safety net: a lost wake-up costs at
most the resync's interval.

A wake-up is named after its execution and due second, so the same decision made twice (two
reconcilers, a redelivered stream record) starts one workflow: Step Functions answers a second
StartExecution of the same name and input with the first one.
"""
from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Protocol

from chalicelib.core.timefmt import iso
from chalicelib.observability import logger
from chalicelib.settings import settings

# Decisions compare strictly (a stall is silence *longer* than the threshold): wake just after.
SLACK = timedelta(seconds=1)


class Timers(Protocol):
    def wake_at(self, execution_id: str, at: datetime) -> None: ...


def fire_time(due: datetime) -> datetime:
    """The whole second a wake-up for `due` fires at: the next one after it, plus the slack."""
    return datetime.fromtimestamp(math.ceil(due.timestamp()), UTC) + SLACK


def wake_up_name(execution_id: str, at: datetime) -> str:
    # An execution's name: at most 80 characters of letters, digits, "-" and "_".
    return f"{execution_id}-{int(at.timestamp())}"[:80]


class StepFunctionsTimers:
    """One execution of the timers state machine per wake-up: `{"executionId", "dueAt"}` in, a
    `Wait` until `dueAt`, then the `execution_timer` function with the same input."""

    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self._client = client
        self._arn = state_machine_arn

    def wake_at(self, execution_id: str, at: datetime) -> None:
        try:
            self._client.start_execution(
                stateMachineArn=self._arn, name=wake_up_name(execution_id, at),
                input=json.dumps({"executionId": execution_id, "dueAt": iso(at)}))
        except self._client.exceptions.ExecutionAlreadyExists:
            pass  # this wake-up ran already: the decision that asked for it was made before


_local: Timers | None = None


def use_local(timers: Timers) -> None:
    """The local stack's in-process timers, while it runs."""
    global _local
    _local = timers


def release_local(timers: Timers) -> None:
    """A stopping stack's timers go (a second stack in the process keeps its own)."""
    global _local
    if _local is timers:
        _local = None


@cache
def _step_functions(arn: str) -> StepFunctionsTimers:
    import boto3

    return StepFunctionsTimers(boto3.client("stepfunctions", region_name=settings.region), arn)


def _backend() -> Timers | None:
    if settings.timers_state_machine_arn:
        return _step_functions(settings.timers_state_machine_arn)
    return _local


def wake_at(execution_id: str, due: datetime) -> None:
    """Reconcile the execution again once `due` has passed. Best effort: a wake-up that cannot be
    set is logged, and the resync finds the execution instead."""
    backend = _backend()
    if backend is None:
        return
    at = fire_time(due)
    try:
        backend.wake_at(execution_id, at)
    except Exception:
        logger.exception("wake-up not set; the resync will find the execution",
                         extra={"executionId": execution_id, "at": iso(at)})


def parse_wake_up(event: Any) -> str:
    """The execution a wake-up is for: the state machine passes its input on as the event."""
    execution_id = event.get("executionId") if isinstance(event, dict) else None
    if not isinstance(execution_id, str) or not execution_id:
        raise ValueError(f"a wake-up names its execution in executionId: {event!r}"[:300])
    return execution_id

