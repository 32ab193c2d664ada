from itertools import product

import pytest

from chalicelib.core.states import TaskState, can_transition, entry_changes

S = TaskState
# SPEC §3, written out again on purpose: the table in the code must match this one exactly.
ALLOWED = {
    (S.PENDING, S.QUEUED), (S.PENDING, S.WAITING_ON_DEPS),
    (S.WAITING_ON_DEPS, S.QUEUED), (S.WAITING_ON_DEPS, S.FAILED), (S.WAITING_ON_DEPS, S.CANCELLED),
    (S.QUEUED, S.PROVISIONING), (S.QUEUED, S.CANCELLED), (S.QUEUED, S.FAILED),
    (S.PROVISIONING, S.RUNNING), (S.PROVISIONING, S.FAILED), (S.PROVISIONING, S.QUEUED),
    (S.PROVISIONING, S.CANCELLED),
    (S.RUNNING, S.PR_OPENED), (S.RUNNING, S.COMPLETED), (S.RUNNING, S.NEEDS_ATTENTION),
    (S.RUNNING, S.FAILED), (S.RUNNING, S.CANCELLED),
    (S.NEEDS_ATTENTION, S.RUNNING), (S.NEEDS_ATTENTION, S.QUEUED), (S.NEEDS_ATTENTION, S.CANCELLED),
    (S.PR_OPENED, S.COMPLETED), (S.PR_OPENED, S.NEEDS_ATTENTION), (S.PR_OPENED, S.FAILED),
    (S.PR_OPENED, S.CANCELLED), (S.PR_OPENED, S.QUEUED),
    (S.FAILED, S.QUEUED), (S.FAILED, S.COMPLETED),
    (S.CANCELLED, S.QUEUED),
}


@pytest.mark.parametrize("current,target", list(product(S, S)))
def test_every_pair_matches_the_spec(current: TaskState, target: TaskState) -> None:
    assert can_transition(current, target) is ((current, target) in ALLOWED)


def test_completed_is_the_only_terminal_state() -> None:
    dead_ends = [s for s in S if not any(can_transition(s, t) for t in S)]
    assert dead_ends == [S.COMPLETED]


def test_entering_queued_clears_the_previous_attempt() -> None:
    changes = entry_changes(S.QUEUED, "2026-01-01T00:00:00.000Z")
    for name in ("errorMessage", "resultSummary", "startedAt", "completedAt"):
        assert changes[name] is None
    assert changes["queuedAt"] == "2026-01-01T00:00:00.000Z"


@pytest.mark.parametrize("target", [S.COMPLETED, S.FAILED, S.CANCELLED])
def test_ending_states_set_completed_at(target: TaskState) -> None:
    assert entry_changes(target, "T") == {"completedAt": "T"}


def test_running_sets_started_at() -> None:
    assert entry_changes(S.RUNNING, "T")["startedAt"] == "T"
