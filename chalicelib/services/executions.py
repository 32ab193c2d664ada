"""Requests on an execution (a person's cancel, retry, resume, restart or redo; a runner's start
and report), carried out the one way: read the row, let `core.requests` decide, have the
executor apply the transitions under compare-and-swap. A row that moved meanwhile is read again
and the request decided again, never overwritten; the stream then wakes the executor."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from chalicelib.core.actions import Transition
from chalicelib.core.requests import Refused, Request, decide_request, rule
from chalicelib.core.states import ExecutionKind
from chalicelib.engine import executor
from chalicelib.exceptions import Conflict
from chalicelib.store import executions
from chalicelib.store.models import ExecutionModel

CAS_TRIES = 4
T = TypeVar("T")


def with_retries(execution_id: str, kind: ExecutionKind | None, act: Callable[[ExecutionModel], T]) -> T:
    """`act` on the row as read now, again on a fresh read each time it loses a race."""
    for _ in range(CAS_TRIES):
        row = executions.get(execution_id, kind)
        try:
            return act(row)
        except executions.LostRace:
            continue
    raise Conflict(f"{execution_id} kept changing; try again")


def carry_out(row: ExecutionModel, request: Request, *, changes: Mapping[str, object] | None = None,
              message: str | None = None, target: Transition | None = None) -> ExecutionModel:
    """The transitions `request` leads to, written in order; Conflict (409) when the row's state
    does not allow it."""
    decided = decide_request(executions.view(row), request, changes=changes, message=message, target=target)
    if isinstance(decided, Refused):
        raise Conflict(decided.message, state=decided.state.value)
    found = rule(executions.kind_of(row), request)
    assert found is not None  # a request without a rule is refused above
    for step in decided:
        row = executor.apply(row, step, found.trigger.value)
    return row


def request(execution_id: str, kind: ExecutionKind, request: Request, *,
            changes: Mapping[str, object] | None = None, message: str | None = None) -> ExecutionModel:
    return with_retries(execution_id, kind, lambda row: carry_out(row, request, changes=changes, message=message))
