"""Repo-task states and the transitions SPEC §3 allows."""
from __future__ import annotations

from enum import StrEnum


class TaskState(StrEnum):
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


S = TaskState

TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
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
}

TERMINAL = frozenset({S.COMPLETED})

# An agent holds a concurrency slot from the moment it is provisioned until it stops running.
SLOT_STATES = frozenset({S.PROVISIONING, S.RUNNING})

# States in which an agent may be alive, so deleting the task is refused.
ACTIVE_STATES = frozenset({S.PROVISIONING, S.RUNNING})

# States a user may cancel from (SPEC §4: "a queued or active task").
CANCELLABLE = frozenset(
    {S.WAITING_ON_DEPS, S.QUEUED, S.PROVISIONING, S.RUNNING, S.NEEDS_ATTENTION, S.PR_OPENED}
)


def can_transition(current: TaskState, target: TaskState) -> bool:
    return target in TRANSITIONS[current]


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


def entry_changes(target: TaskState, now_iso: str) -> dict[str, object]:
    """Fields every entry into `target` sets or clears (SPEC §3), whoever causes it."""
    if target is S.QUEUED:
        changes: dict[str, object] = {name: None for name in _CLEARED_ON_QUEUE}
        changes["retryable"] = True
        changes["queuedAt"] = now_iso
        return changes
    if target is S.RUNNING:
        return {"startedAt": now_iso, "lastHeartbeatAt": now_iso}
    if target in (S.COMPLETED, S.FAILED, S.CANCELLED):
        return {"completedAt": now_iso}
    return {}
