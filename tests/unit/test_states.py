from itertools import product

import pytest

from chalicelib.core.states import (
    LIFECYCLES,
    SLOT_STATES,
    ExecutionKind,
    State,
    can_transition,
    entry_changes,
    releases_slot,
    takes_slot,
)

S = State
K = ExecutionKind
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
# A run of a standalone task (SPEC §2: `queued, running, completed, failed`), as the old
# `workflow_runs.TRANSITIONS` had it.
RUN_ALLOWED = {
    (S.QUEUED, S.RUNNING), (S.QUEUED, S.FAILED),
    (S.RUNNING, S.COMPLETED), (S.RUNNING, S.FAILED),
    (S.FAILED, S.QUEUED),
}


@pytest.mark.parametrize("current,target", list(product(S, S)))
def test_every_pair_matches_the_spec(current: State, target: State) -> None:
    assert can_transition(K.REPO_TASK, current, target) is ((current, target) in ALLOWED)


@pytest.mark.parametrize("current,target", list(product(S, S)))
def test_every_pair_of_a_run_matches_its_four_states(current: State, target: State) -> None:
    # States a run does not have (pending, pr_opened...) lead nowhere and are reached from nowhere.
    assert can_transition(K.RUN, current, target) is ((current, target) in RUN_ALLOWED)


@pytest.mark.parametrize("kind", list(K))
def test_completed_is_the_only_terminal_state(kind: ExecutionKind) -> None:
    states = LIFECYCLES[kind].states
    dead_ends = [s for s in states if not any(can_transition(kind, s, t) for t in S)]
    assert dead_ends == [S.COMPLETED]


@pytest.mark.parametrize("kind", list(K))
def test_every_state_is_reachable_from_queued(kind: ExecutionKind) -> None:
    lifecycle = LIFECYCLES[kind]
    reached, frontier = {S.QUEUED}, [S.QUEUED]
    while frontier:
        for target in lifecycle.transitions[frontier.pop()]:
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    # Only where an execution is created (a repo task's pending, and what it leads to) is not.
    assert lifecycle.states - reached == ({S.PENDING, S.WAITING_ON_DEPS} if kind is K.REPO_TASK else set())


@pytest.mark.parametrize("kind,launch,slots,cancelled,noun", [
    (K.REPO_TASK, S.PROVISIONING, {S.PROVISIONING, S.RUNNING}, S.CANCELLED, "task"),
    (K.RUN, S.RUNNING, {S.RUNNING}, S.FAILED, "run"),
])
def test_each_kind_says_where_it_launches_holds_its_slot_and_is_cancelled(
        kind: ExecutionKind, launch: State, slots: set[State], cancelled: State, noun: str) -> None:
    lifecycle = LIFECYCLES[kind]
    assert (lifecycle.launch_state, lifecycle.slot_states, lifecycle.cancelled_state, lifecycle.noun) == (
        launch, slots, cancelled, noun)
    assert lifecycle.slot_states <= SLOT_STATES and lifecycle.slot_states <= lifecycle.states
    # The launch state is entered from the queue, with the slot.
    assert can_transition(kind, S.QUEUED, launch) and takes_slot(kind, S.QUEUED, launch)
    assert can_transition(kind, S.QUEUED, cancelled) and can_transition(kind, S.RUNNING, cancelled)


@pytest.mark.parametrize("kind", list(K))
def test_a_slot_is_taken_and_released_exactly_on_the_edges_that_cross_the_slot_states(kind: ExecutionKind) -> None:
    lifecycle = LIFECYCLES[kind]
    for current, targets in lifecycle.transitions.items():
        for target in targets:
            inside, after = current in lifecycle.slot_states, target in lifecycle.slot_states
            assert takes_slot(kind, current, target) is (not inside and after)
            assert releases_slot(kind, current, target) is (inside and not after)
    assert not takes_slot(kind, S.QUEUED, S.QUEUED) and not releases_slot(kind, S.RUNNING, S.RUNNING)


@pytest.mark.parametrize("kind", list(K))
def test_entering_queued_clears_the_previous_attempt(kind: ExecutionKind) -> None:
    changes = entry_changes(kind, S.FAILED, S.QUEUED, "2026-01-01T00:00:00.000Z")
    for name in ("errorMessage", "errorKind", "resultSummary", "startedAt", "completedAt", "launchedAt",
                 "lastHeartbeatAt", "freeRetry"):
        assert changes[name] is None
    assert changes["queuedAt"] == "2026-01-01T00:00:00.000Z"
    assert changes["retryable"] is True


def test_leaving_a_slot_for_the_queue_clears_the_attempt_too() -> None:
    changes = entry_changes(K.REPO_TASK, S.PROVISIONING, S.QUEUED, "T")
    assert changes["launchedAt"] is None and changes["queuedAt"] == "T"


@pytest.mark.parametrize("kind", list(K))
@pytest.mark.parametrize("target", [S.COMPLETED, S.FAILED, S.CANCELLED])
def test_ending_states_set_completed_at(kind: ExecutionKind, target: State) -> None:
    assert entry_changes(kind, S.RUNNING, target, "T") == {"completedAt": "T"}


def test_running_sets_started_at() -> None:
    assert entry_changes(K.REPO_TASK, S.PROVISIONING, S.RUNNING, "T")["startedAt"] == "T"


def test_a_task_that_says_it_started_has_shown_its_first_sign_of_life() -> None:
    # provisioning -> running keeps the slot and the launch: the runner's `started` is a heartbeat.
    assert entry_changes(K.REPO_TASK, S.PROVISIONING, S.RUNNING, "T") == {"startedAt": "T", "lastHeartbeatAt": "T"}


@pytest.mark.parametrize("kind,current,target", [
    (K.REPO_TASK, S.QUEUED, S.PROVISIONING),
    (K.RUN, S.QUEUED, S.RUNNING),
])
def test_entering_the_launch_state_starts_a_new_attempt_not_yet_launched_nor_heard_from(
        kind: ExecutionKind, current: State, target: State) -> None:
    changes = entry_changes(kind, current, target, "T")
    assert changes["launchedAt"] is None and changes["lastHeartbeatAt"] is None
    # A run is running from its slot on: it is started then, and heard from on its first heartbeat.
    assert changes.get("startedAt") == ("T" if target is S.RUNNING else None)


def test_states_that_set_nothing() -> None:
    assert entry_changes(K.REPO_TASK, S.PENDING, S.WAITING_ON_DEPS, "T") == {}
    assert entry_changes(K.REPO_TASK, S.RUNNING, S.PR_OPENED, "T") == {}
    assert entry_changes(K.REPO_TASK, S.RUNNING, S.NEEDS_ATTENTION, "T") == {}
