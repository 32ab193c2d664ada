from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core.actions import Launch, Noop, StopAgent, Transition, WaitUntil
from chalicelib.core.reconcile import (
    Limits,
    PodPhase,
    PodStatus,
    RunReport,
    Snapshot,
    TaskView,
    decide,
    outcome,
    retry_delay,
)
from chalicelib.core.states import TaskState

S = TaskState
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LIMITS = Limits(stall_threshold=timedelta(minutes=15), provision_timeout=timedelta(minutes=10))
RUNNING_POD = PodStatus(PodPhase.RUNNING)
GONE = PodStatus(PodPhase.NOT_FOUND)


def task(state: TaskState, **fields: object) -> TaskView:
    base = TaskView(id="t1", state=state, version=3, attempt=1, retry_count=0, max_retries=3,
                    created_at=T0, updated_at=T0)
    return replace(base, **fields)  # type: ignore[arg-type]


def snap(view: TaskView, pod: PodStatus | None = None) -> Snapshot:
    return Snapshot(task=view, pod=pod, limits=LIMITS)


def test_pending_without_dependencies_is_queued() -> None:
    action = decide(snap(task(S.PENDING)), T0)
    assert isinstance(action, Transition) and action.to is S.QUEUED


def test_queued_waits_for_the_dispatcher() -> None:
    assert isinstance(decide(snap(task(S.QUEUED)), T0), Noop)


def test_provisioning_not_yet_launched_launches_its_attempt() -> None:
    action = decide(snap(task(S.PROVISIONING, attempt=2), GONE), T0)
    assert action == Launch(2, "slot taken; launching attempt 2")


def test_provisioning_launched_and_starting_waits() -> None:
    view = task(S.PROVISIONING, launched_at=T0)
    assert isinstance(decide(snap(view, RUNNING_POD), T0 + timedelta(seconds=30)), Noop)


def test_provisioning_whose_pod_vanished_fails() -> None:
    action = decide(snap(task(S.PROVISIONING, launched_at=T0), GONE), T0)
    assert isinstance(action, Transition) and action.to is S.FAILED
    assert action.changes["errorKind"] == "pod_gone"


def test_provisioning_past_the_deadline_fails_and_stops_the_pod() -> None:
    view = task(S.PROVISIONING, launched_at=T0)
    action = decide(snap(view, PodStatus(PodPhase.PENDING)), T0 + timedelta(minutes=11))
    assert isinstance(action, Transition) and action.to is S.FAILED and action.stop_agent


@pytest.mark.parametrize("pod,kind", [
    (GONE, "pod_gone"),
    (PodStatus(PodPhase.SUCCEEDED), "no_result"),
    (PodStatus(PodPhase.FAILED, "oom_killed", "out of memory"), "oom_killed"),
])
def test_running_task_whose_agent_died_fails_with_the_reason(pod: PodStatus, kind: str) -> None:
    action = decide(snap(task(S.RUNNING, started_at=T0), pod), T0)
    assert isinstance(action, Transition) and action.to is S.FAILED
    assert action.changes["errorKind"] == kind


def test_unretryable_pod_failure_is_not_retried() -> None:
    pod = PodStatus(PodPhase.FAILED, "image_pull", "bad image", retryable=False)
    action = decide(snap(task(S.RUNNING, started_at=T0), pod), T0)
    assert isinstance(action, Transition) and action.changes["retryable"] is False


def test_running_with_recent_heartbeat_is_left_alone() -> None:
    view = task(S.RUNNING, started_at=T0, last_heartbeat_at=T0 + timedelta(minutes=10))
    assert isinstance(decide(snap(view, RUNNING_POD), T0 + timedelta(minutes=20)), Noop)


def test_running_without_heartbeat_past_the_threshold_stalls() -> None:
    view = task(S.RUNNING, started_at=T0, last_heartbeat_at=T0)
    action = decide(snap(view, RUNNING_POD), T0 + timedelta(minutes=15, seconds=1))
    assert isinstance(action, Transition) and action.to is S.FAILED and action.stop_agent
    assert action.changes["errorKind"] == "stalled"


def test_retry_delay_doubles_from_five_seconds() -> None:
    assert [retry_delay(n).total_seconds() for n in range(4)] == [5, 10, 20, 40]


def test_failed_task_waits_for_its_backoff_then_requeues() -> None:
    view = task(S.FAILED, retry_count=1, completed_at=T0)
    waiting = decide(snap(view, GONE), T0 + timedelta(seconds=9))
    assert isinstance(waiting, WaitUntil) and waiting.at == T0 + timedelta(seconds=10)
    due = decide(snap(view, GONE), T0 + timedelta(seconds=10))
    assert isinstance(due, Transition) and due.to is S.QUEUED and due.changes == {"retryCount": 2}


def test_failed_task_out_of_retries_rests() -> None:
    view = task(S.FAILED, retry_count=3, completed_at=T0)
    assert isinstance(decide(snap(view, GONE), T0 + timedelta(hours=1)), Noop)


def test_unretryable_failure_rests() -> None:
    view = task(S.FAILED, retryable=False, completed_at=T0)
    assert isinstance(decide(snap(view, GONE), T0 + timedelta(hours=1)), Noop)


@pytest.mark.parametrize("state", [S.FAILED, S.CANCELLED, S.NEEDS_ATTENTION, S.COMPLETED])
def test_an_agent_alive_after_its_task_stopped_is_stopped(state: TaskState) -> None:
    action = decide(snap(task(state, completed_at=T0), RUNNING_POD), T0)
    assert isinstance(action, StopAgent) and action.attempt == 1


def test_every_action_has_a_reason() -> None:
    for state in S:
        for pod in (None, GONE, RUNNING_POD):
            view = task(state, completed_at=T0, launched_at=T0, started_at=T0)
            assert decide(snap(view, pod), T0).reason


@pytest.mark.parametrize("report,state", [
    (RunReport(True, True, True, "https://github.com/a/b/pull/1", None, None), S.PR_OPENED),
    (RunReport(False, False, False, "https://github.com/a/b/pull/1", "x", None), S.PR_OPENED),
    (RunReport(True, True, True, None, None, None), S.COMPLETED),
    (RunReport(True, False, False, None, None, None), S.NEEDS_ATTENTION),
    (RunReport(False, False, False, None, "exit 1", "agent_error"), S.FAILED),
    (RunReport(True, True, False, None, None, None), S.FAILED),
    # A review is done when its agent is, whatever PR it saw (its parent's) and with no changes.
    (RunReport(True, False, False, "https://github.com/a/b/pull/1", None, None, review=True), S.COMPLETED),
    (RunReport(True, False, False, None, None, None, review=True), S.COMPLETED),
    (RunReport(False, False, False, "https://github.com/a/b/pull/1", "x", None, review=True), S.FAILED),
])
def test_outcome_of_a_run(report: RunReport, state: TaskState) -> None:
    assert outcome(report).to is state


def test_auth_failures_are_not_retried() -> None:
    result = outcome(RunReport(False, False, False, None, "bad key", "auth"))
    assert result.changes["retryable"] is False


def test_an_evicted_attempt_is_retried_at_once_without_using_a_retry() -> None:
    pod = PodStatus(PodPhase.FAILED, "evicted", "node drained", free_retry=True)
    failing = decide(snap(task(S.RUNNING, started_at=T0), pod), T0)
    assert isinstance(failing, Transition) and failing.changes["freeRetry"] is True
    view = task(S.FAILED, retry_count=3, completed_at=T0, free_retry=True)
    action = decide(snap(view, GONE), T0)
    assert isinstance(action, Transition) and action.to is S.QUEUED and "retryCount" not in action.changes


def test_a_task_that_cannot_be_launched_fails_after_the_provision_timeout() -> None:
    view = task(S.PROVISIONING, updated_at=T0)
    assert isinstance(decide(snap(view, GONE), T0 + timedelta(minutes=9)), Launch)
    action = decide(snap(view, GONE), T0 + timedelta(minutes=11))
    assert isinstance(action, Transition) and action.changes["errorKind"] == "launch_failed"


def test_a_failed_pod_is_removed_with_its_task() -> None:
    pod = PodStatus(PodPhase.FAILED, "image_pull", "bad image", retryable=False)
    action = decide(snap(task(S.PROVISIONING, launched_at=T0), pod), T0)
    assert isinstance(action, Transition) and action.stop_agent


def test_a_spent_budget_is_not_retried() -> None:
    result = outcome(RunReport(False, False, False, None, "budget exceeded", "budget"))
    assert result.changes["retryable"] is False
