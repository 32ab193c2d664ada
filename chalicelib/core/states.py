"""Executions, their kinds and states, and the transitions SPEC §3 allows each kind.

An execution is one piece of work an agent does: a repo task, or a run of a standalone task. Both
live in one table and go through one decision; a run uses its subset of the states (SPEC §2:
`queued, running, completed, failed`). What differs between the kinds is data, here.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class ExecutionKind(StrEnum):
    REPO_TASK = "repo-task"
    RUN = "workflow-run"


class State(StrEnum):
    PENDING = "pending"
    WAITING_ON_DEPS = "waiting_on_deps"
    QUEUED = "queued"
    PROVISIONING = "provisioning"
    RUNNING = "running"
    NEEDS_ATTENTION = "needs_attention"
    PR_OPENED = "pr_opened"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


S = State


@dataclass(frozen=True)
class Lifecycle:
    """The states one kind of execution goes through."""

    transitions: Mapping[State, frozenset[State]]
    # Entered with the concurrency slot: a new attempt starts, and is launched from here.
    launch_state: State
    # The states that hold a concurrency slot (an agent may be alive in them).
    slot_states: frozenset[State]
    # Where a person's cancel leaves it.
    cancelled_state: State
    # What messages call it.
    noun: str

    @property
    def states(self) -> frozenset[State]:
        return frozenset(self.transitions)


LIFECYCLES: dict[ExecutionKind, Lifecycle] = {
    ExecutionKind.REPO_TASK: Lifecycle(
        transitions={
            S.PENDING: frozenset({S.QUEUED, S.WAITING_ON_DEPS}),
            S.WAITING_ON_DEPS: frozenset({S.QUEUED, S.FAILED, S.CANCELLED}),
            S.QUEUED: frozenset({S.PROVISIONING, S.CANCELLED, S.FAILED}),
            S.PROVISIONING: frozenset({S.RUNNING, S.FAILED, S.QUEUED, S.CANCELLED}),
            S.RUNNING: frozenset({S.PR_OPENED, S.COMPLETED, S.NEEDS_ATTENTION, S.FAILED, S.CANCELLED}),
            S.NEEDS_ATTENTION: frozenset({S.RUNNING, S.QUEUED, S.CANCELLED}),
            S.PR_OPENED: frozenset({S.COMPLETED, S.NEEDS_ATTENTION, S.FAILED, S.CANCELLED, S.QUEUED}),
            S.FAILED: frozenset({S.QUEUED, S.COMPLETED}),
            S.CANCELLED: frozenset({S.QUEUED}),
            S.COMPLETED: frozenset(),
        },
        launch_state=S.PROVISIONING,
        slot_states=frozenset({S.PROVISIONING, S.RUNNING}),
        cancelled_state=S.CANCELLED,
        noun="task",
    ),
    # A run is launched from `running` and reports no separate start; a cancel fails it.
    ExecutionKind.RUN: Lifecycle(
        transitions={
            S.QUEUED: frozenset({S.RUNNING, S.FAILED}),
            S.RUNNING: frozenset({S.COMPLETED, S.FAILED}),
            S.FAILED: frozenset({S.QUEUED}),
            S.COMPLETED: frozenset(),
        },
        launch_state=S.RUNNING,
        slot_states=frozenset({S.RUNNING}),
        cancelled_state=S.FAILED,
        noun="run",
    ),
}

# Every state in which an agent may hold a slot, whatever the kind.
SLOT_STATES = frozenset({S.PROVISIONING, S.RUNNING})


def can_transition(kind: ExecutionKind, current: State, target: State) -> bool:
    return target in LIFECYCLES[kind].transitions.get(current, frozenset())


def takes_slot(kind: ExecutionKind, current: State, target: State) -> bool:
    slots = LIFECYCLES[kind].slot_states
    return current not in slots and target in slots


def releases_slot(kind: ExecutionKind, current: State, target: State) -> bool:
    slots = LIFECYCLES[kind].slot_states
    return current in slots and target not in slots


_CLEARED_ON_QUEUE = (
    "errorMessage",
    "errorKind",
    "resultSummary",
    "startedAt",
    "completedAt",
    "launchedAt",
    "lastHeartbeatAt",
    "freeRetry",
)


def entry_changes(kind: ExecutionKind, current: State, target: State, now_iso: str) -> dict[str, object]:
    """Fields every entry into `target` sets or clears (SPEC §3), whoever causes it. The attempt
    counter and its accounting move with the slot (the store adds them)."""
    changes: dict[str, object] = {}
    if target is S.QUEUED:
        changes = {name: None for name in _CLEARED_ON_QUEUE}
        changes["retryable"] = True
        changes["queuedAt"] = now_iso
    elif target in (S.COMPLETED, S.FAILED, S.CANCELLED):
        changes = {"completedAt": now_iso}
    entering_slot = takes_slot(kind, current, target)
    if entering_slot:
        # A new attempt: not launched, not heard from.
        changes.update(launchedAt=None, lastHeartbeatAt=None)
    if target is S.RUNNING:
        changes["startedAt"] = now_iso
        if not entering_slot:
            # The runner said its agent started: that is its first sign of life.
            changes["lastHeartbeatAt"] = now_iso
    return changes
