"""Which queued executions may start now: start order, within the limits of their scopes.

Each kind has a global limit (`OPTIO_MAX_CONCURRENT` for repo tasks, `OPTIO_MAX_WORKFLOW_CONCURRENT`
for runs) and a limit per scope: the repo of a repo task, the standalone task of a run.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .states import ExecutionKind

_GLOBAL_KEYS = {ExecutionKind.REPO_TASK: "slots#global", ExecutionKind.RUN: "slots#workflow#global"}
_SCOPE_PREFIXES = {ExecutionKind.REPO_TASK: "slots#repo#", ExecutionKind.RUN: "slots#workflow#config#"}


def global_slots_key(kind: ExecutionKind) -> str:
    return _GLOBAL_KEYS[kind]


def scope_slots_key(kind: ExecutionKind, scope_id: str) -> str:
    return _SCOPE_PREFIXES[kind] + scope_id


@dataclass(frozen=True)
class SlotLimits:
    global_limit: int
    scope_limit: int


@dataclass(frozen=True)
class Queued:
    id: str
    scope: str
    scope_limit: int


@dataclass(frozen=True)
class Capacity:
    global_used: int
    global_limit: int
    scope_used: Mapping[str, int]


def plan_dispatch(queue: Sequence[Queued], capacity: Capacity) -> list[Queued]:
    """`queue` is in start order (priority, then age). An execution whose scope is full is
    skipped, so it does not hold back the ones of other scopes behind it."""
    free = capacity.global_limit - capacity.global_used
    used = dict(capacity.scope_used)
    chosen: list[Queued] = []
    for queued in queue:
        if free <= 0:
            break
        if used.get(queued.scope, 0) >= queued.scope_limit:
            continue
        chosen.append(queued)
        used[queued.scope] = used.get(queued.scope, 0) + 1
        free -= 1
    return chosen
