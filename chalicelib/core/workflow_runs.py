"""Runs of standalone tasks: their states and the transitions between them (pure)."""
from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


R = RunState
TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    R.QUEUED: frozenset({R.RUNNING, R.FAILED}),
    R.RUNNING: frozenset({R.COMPLETED, R.FAILED}),
    R.FAILED: frozenset({R.QUEUED}),
    R.COMPLETED: frozenset(),
}
# Runs an agent works on, or may soon: the ones `cancel` stops.
CANCELLABLE = frozenset({R.QUEUED, R.RUNNING})


def can_transition(current: RunState, target: RunState) -> bool:
    return target in TRANSITIONS[current]
