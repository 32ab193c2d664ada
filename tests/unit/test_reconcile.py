"""The reconciler's decision for every execution (`core.reconcile`): repo tasks, and runs where
their lifecycle has the state (the run-only cases are in test_workflow_runs.py)."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core.actions import Launch, Noop, StopAgent, Transition, WaitUntil
from chalicelib.core.graph import DepView
from chalicelib.core.reconcile import (
    NEEDS_POD_STATUS,
    RECONCILED_STATES,
    ExecutionView,
    Limits,
    PodPhase,
    PodStatus,
    Report,
    Snapshot,
    decide,
    needs_resync,
    outcome,
    over_budget,
    retry_delay,
    retry_pending,
)
from chalicelib.core.states import LIFECYCLES, ExecutionKind, State, can_transition
from chalicelib.core.subtasks import PipelineView

S = State
K = ExecutionKind
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LIMITS = Limits(stall_threshold=timedelta(minutes=15), provision_timeout=timedelta(minutes=10))
RUNNING_POD = PodStatus(PodPhase.RUNNING)
PENDING_POD = PodStatus(PodPhase.PENDING)
GONE = PodStatus(PodPhase.NOT_FOUND)
PR = "https://github.com/a/b/pull/1"


def task(state: State, **fields: object) -> ExecutionView:
    return execution(K.REPO_TASK, state, **fields)


def execution(kind: ExecutionKind, state: State, **fields: object) -> ExecutionView:
    base = ExecutionView(id="t1", kind=kind, state=state, version=3, attempt=1, retry_count=0, max_retries=3,
                         created_at=T0, updated_at=T0)
    return replace(base, **fields)  # type: ignore[arg-type]


def snap(view: ExecutionView, pod: PodStatus | None = None, **extra: object) -> Snapshot:
    return Snapshot(execution=view, pod=pod, limits=LIMITS, **extra)  # type: ignore[arg-type]


def launched(kind: ExecutionKind, **fields: object) -> ExecutionView:
    """An execution whose attempt was launched at T0 and has not shown it started."""
    return execution(kind, LIFECYCLES[kind].launch_state, launched_at=T0, **fields)


def started(kind: ExecutionKind, **fields: object) -> ExecutionView:
    """An execution whose agent started at T0 (its first heartbeat)."""
    return execution(kind, S.RUNNING, **{"launched_at": T0, "started_at": T0, "last_heartbeat_at": T0, **fields})


BOTH = pytest.mark.parametrize("kind", list(K))


def test_pending_without_dependencies_is_queued() -> None:
    action = decide(snap(task(S.PENDING)), T0)
    assert isinstance(action, Transition) and action.to is S.QUEUED


def test_pending_with_unfinished_dependencies_waits_for_them() -> None:
    action = decide(snap(task(S.PENDING), deps=(DepView("d1", S.RUNNING), DepView("d2", S.COMPLETED))), T0)
    assert isinstance(action, Transition) and action.to is S.WAITING_ON_DEPS and "d1" in action.reason


@pytest.mark.parametrize("deps,expected,kind", [
    ((DepView("d1", S.COMPLETED), DepView("d2", S.PR_OPENED)), S.QUEUED, None),
    ((DepView("d1", S.RUNNING),), None, None),
    ((DepView("d1", S.FAILED, retry_pending=True),), None, None),
    ((DepView("d1", S.FAILED),), S.FAILED, "dependency_failed"),
    ((DepView("d1", None),), S.FAILED, "dependency_failed"),
])
def test_waiting_on_dependencies(deps: tuple[DepView, ...], expected: State | None, kind: str | None) -> None:
    action = decide(snap(task(S.WAITING_ON_DEPS), deps=deps), T0)
    if expected is None:
        assert isinstance(action, Noop)
        return
    assert isinstance(action, Transition) and action.to is expected
    if kind is not None:
        assert action.changes["errorKind"] == kind and action.changes["retryable"] is False


@BOTH
def test_queued_waits_for_the_dispatcher(kind: ExecutionKind) -> None:
    assert isinstance(decide(snap(execution(kind, S.QUEUED)), T0), Noop)


def test_provisioning_not_yet_launched_launches_its_attempt() -> None:
    action = decide(snap(task(S.PROVISIONING, attempt=2), GONE), T0)
    assert action == Launch(2, "slot taken; launching attempt 2")


def test_a_run_is_launched_from_running() -> None:
    action = decide(snap(execution(K.RUN, S.RUNNING, attempt=2), GONE), T0)
    assert action == Launch(2, "slot taken; launching attempt 2")


def test_a_running_task_is_never_launched_again() -> None:
    # A repo task is launched from provisioning only; running without a launch time is a live agent.
    action = decide(snap(task(S.RUNNING, last_heartbeat_at=T0), RUNNING_POD), T0)
    assert isinstance(action, WaitUntil) and action.at == T0 + LIMITS.stall_threshold


@BOTH
def test_provisioning_launched_and_starting_waits_until_its_deadline(kind: ExecutionKind) -> None:
    action = decide(snap(launched(kind), RUNNING_POD), T0 + timedelta(seconds=30))
    assert action == WaitUntil(T0 + LIMITS.provision_timeout, "agent starting; its start is due by then")


@BOTH
def test_provisioning_whose_pod_vanished_fails(kind: ExecutionKind) -> None:
    action = decide(snap(launched(kind), GONE), T0)
    assert isinstance(action, Transition) and action.to is S.FAILED
    assert action.changes["errorKind"] == "pod_gone" and "before it started" in action.reason


@BOTH
def test_provisioning_past_the_deadline_fails_and_stops_the_pod(kind: ExecutionKind) -> None:
    action = decide(snap(launched(kind), PENDING_POD), T0 + timedelta(minutes=11))
    assert isinstance(action, Transition) and action.to is S.FAILED and action.stop_agent
    assert action.changes["errorKind"] == "unschedulable"


@BOTH
def test_the_provisioning_timeout_is_not_retried(kind: ExecutionKind) -> None:
    # Changed: a pod no node takes is the user's to fix (the failure-kind table), not retried.
    action = decide(snap(launched(kind), PENDING_POD), T0 + timedelta(minutes=11))
    assert isinstance(action, Transition) and action.changes["retryable"] is False
    assert "freeRetry" not in action.changes


@BOTH
def test_the_provisioning_deadline_counts_from_the_launch(kind: ExecutionKind) -> None:
    view = launched(kind, updated_at=T0 - timedelta(hours=1))
    action = decide(snap(view, PENDING_POD), T0 + timedelta(minutes=10))
    assert isinstance(action, WaitUntil) and action.at == T0 + LIMITS.provision_timeout


def test_a_start_reported_before_the_launch_is_written_counts_from_the_update() -> None:
    # A repo task running without a launch time: the runner said it started before `launchedAt`
    # was written; a deadline runs from the row's last update. (A run is launched from running:
    # there, no launch time means not launched, see test_a_run_is_launched_from_running.)
    view = task(S.RUNNING, updated_at=T0, launched_at=None)
    action = decide(snap(view, PENDING_POD), T0 + timedelta(minutes=9))
    assert isinstance(action, WaitUntil) and action.at == T0 + LIMITS.provision_timeout
    action = decide(snap(view, PENDING_POD), T0 + timedelta(minutes=11))
    assert isinstance(action, Transition) and action.changes["errorKind"] == "unschedulable"


@BOTH
@pytest.mark.parametrize("pod,failure", [
    (GONE, "pod_gone"),
    (PodStatus(PodPhase.SUCCEEDED), "no_result"),
    (PodStatus(PodPhase.FAILED, "oom_killed", "out of memory"), "oom_killed"),
])
def test_running_task_whose_agent_died_fails_with_the_reason(kind: ExecutionKind, pod: PodStatus,
                                                             failure: str) -> None:
    action = decide(snap(started(kind), pod), T0)
    assert isinstance(action, Transition) and action.to is S.FAILED
    assert action.changes["errorKind"] == failure and action.changes["retryable"] is True


def test_a_vanished_pod_says_whether_the_agent_had_started() -> None:
    ran = decide(snap(started(K.REPO_TASK), GONE), T0)
    assert isinstance(ran, Transition) and "while it ran" in ran.reason
    # A running row without a heartbeat: the agent never showed it started.
    never = decide(snap(task(S.RUNNING, started_at=T0), GONE), T0)
    assert isinstance(never, Transition) and "before it started" in never.reason


@BOTH
@pytest.mark.parametrize("reason,failure", [
    (None, "crash"),
    ("crash", "crash"),
    ("deadline_exceeded", "deadline_exceeded"),
    # A reason the launcher made up is the agent's error, never a crash of the decision.
    ("SomethingNew", "agent_error"),
])
def test_a_failed_pod_fails_with_its_reason_as_a_failure_kind(kind: ExecutionKind, reason: str | None,
                                                              failure: str) -> None:
    action = decide(snap(started(kind), PodStatus(PodPhase.FAILED, reason)), T0)
    assert isinstance(action, Transition) and action.changes["errorKind"] == failure
    assert action.changes["retryable"] is True and action.stop_agent
    assert action.reason  # the launcher's message, or one naming the kind


@BOTH
@pytest.mark.parametrize("reason", ["image_pull", "config_error", "unschedulable"])
def test_unretryable_pod_failure_is_not_retried(kind: ExecutionKind, reason: str) -> None:
    pod = PodStatus(PodPhase.FAILED, reason, "bad image")
    action = decide(snap(started(kind), pod), T0)
    assert isinstance(action, Transition) and action.changes["retryable"] is False
    assert action.changes["errorKind"] == reason and action.reason == "bad image"


@BOTH
def test_running_with_recent_heartbeat_is_left_alone(kind: ExecutionKind) -> None:
    view = started(kind, last_heartbeat_at=T0 + timedelta(minutes=10))
    action = decide(snap(view, RUNNING_POD), T0 + timedelta(minutes=20))
    # Woken when the silence would become a stall, counted from the last heartbeat.
    assert action == WaitUntil(T0 + timedelta(minutes=25), "agent running; stalled if silent until then")


@BOTH
def test_running_without_heartbeat_past_the_threshold_stalls(kind: ExecutionKind) -> None:
    view = started(kind)
    action = decide(snap(view, RUNNING_POD), T0 + timedelta(minutes=15))
    assert isinstance(action, WaitUntil) and action.at == T0 + timedelta(minutes=15)
    action = decide(snap(view, RUNNING_POD), T0 + timedelta(minutes=15, seconds=1))
    assert isinstance(action, Transition) and action.to is S.FAILED and action.stop_agent
    assert action.changes["errorKind"] == "stalled" and action.changes["retryable"] is True
    assert action.reason == "no heartbeat from the agent for 901 s"


@BOTH
def test_an_execution_over_its_budget_is_stopped_and_failed_for_good(kind: ExecutionKind) -> None:
    action = decide(snap(started(kind, cost_usd=1.5, budget_usd=1.0), RUNNING_POD), T0)
    assert isinstance(action, Transition) and action.to is S.FAILED and action.stop_agent
    assert action.changes["errorKind"] == "budget" and action.changes["retryable"] is False
    assert action.reason == "budget exceeded: the agent's cost $1.5000 passed the budget $1.00"
    assert isinstance(decide(snap(started(kind, cost_usd=1.0, budget_usd=1.0), RUNNING_POD), T0), WaitUntil)


@pytest.mark.parametrize("cost,budget,over", [
    (None, None, False), (5.0, None, False), (None, 1.0, False), (1.0, 1.0, False), (1.01, 1.0, True),
])
def test_over_budget(cost: float | None, budget: float | None, over: bool) -> None:
    assert over_budget(cost, budget) is over


def test_retry_delay_doubles_from_five_seconds() -> None:
    assert [retry_delay(n).total_seconds() for n in range(4)] == [5, 10, 20, 40]


@BOTH
def test_failed_task_waits_for_its_backoff_then_requeues(kind: ExecutionKind) -> None:
    view = execution(kind, S.FAILED, retry_count=1, completed_at=T0)
    waiting = decide(snap(view, GONE), T0 + timedelta(seconds=9))
    assert isinstance(waiting, WaitUntil) and waiting.at == T0 + timedelta(seconds=10)
    assert waiting.reason == "retry 2 of 3 due"
    due = decide(snap(view, GONE), T0 + timedelta(seconds=10))
    assert isinstance(due, Transition) and due.to is S.QUEUED and due.changes == {"retryCount": 2}
    assert due.reason == "automatic retry 2 of 3"


def test_the_backoff_counts_from_the_last_update_without_a_completion_time() -> None:
    view = task(S.FAILED, updated_at=T0, completed_at=None)
    assert isinstance(decide(snap(view, GONE), T0 + timedelta(seconds=4)), WaitUntil)
    assert isinstance(decide(snap(view, GONE), T0 + timedelta(seconds=5)), Transition)


@BOTH
def test_failed_task_out_of_retries_rests(kind: ExecutionKind) -> None:
    view = execution(kind, S.FAILED, retry_count=3, completed_at=T0)
    assert isinstance(decide(snap(view, GONE), T0 + timedelta(hours=1)), Noop)
    assert not retry_pending(view) and not needs_resync(view)


@BOTH
def test_unretryable_failure_rests(kind: ExecutionKind) -> None:
    view = execution(kind, S.FAILED, retryable=False, completed_at=T0)
    assert isinstance(decide(snap(view, GONE), T0 + timedelta(hours=1)), Noop)
    # Not even a free retry revives what the table said a retry cannot fix.
    assert isinstance(decide(snap(replace(view, free_retry=True), GONE), T0 + timedelta(hours=1)), Noop)


@pytest.mark.parametrize("state", [S.FAILED, S.CANCELLED, S.NEEDS_ATTENTION, S.COMPLETED])
def test_an_agent_alive_after_its_task_stopped_is_stopped(state: State) -> None:
    action = decide(snap(task(state, completed_at=T0), RUNNING_POD), T0)
    assert isinstance(action, StopAgent) and action.attempt == 1
    assert action.reason == ("task failed; stopping its agent" if state is S.FAILED
                             else f"task is {state.value}; stopping its agent")


@pytest.mark.parametrize("state", [S.FAILED, S.COMPLETED])
def test_an_agent_alive_after_its_run_ended_is_stopped(state: State) -> None:
    action = decide(snap(execution(K.RUN, state, completed_at=T0), RUNNING_POD), T0)
    assert isinstance(action, StopAgent) and action.attempt == 1
    assert action.reason == ("run failed; stopping its agent" if state is S.FAILED
                             else "run is completed; stopping its agent")


@BOTH
def test_every_action_has_a_reason(kind: ExecutionKind) -> None:
    for state in LIFECYCLES[kind].states:
        for pod in (None, GONE, RUNNING_POD):
            view = execution(kind, state, completed_at=T0, launched_at=T0, started_at=T0)
            assert decide(snap(view, pod), T0).reason


@BOTH
def test_every_transition_decided_is_one_the_lifecycle_allows(kind: ExecutionKind) -> None:
    """Over every state, pod and timing, `decide` never asks for a transition SPEC §3 forbids."""
    pods = (None, GONE, RUNNING_POD, PENDING_POD, PodStatus(PodPhase.SUCCEEDED),
            PodStatus(PodPhase.FAILED, "evicted"), PodStatus(PodPhase.FAILED, "image_pull"))
    views = []
    for state in LIFECYCLES[kind].states:
        views += [execution(kind, state), execution(kind, state, launched_at=T0),
                  started(kind) if state is S.RUNNING else execution(kind, state, completed_at=T0),
                  execution(kind, state, launched_at=T0, cost_usd=2.0, budget_usd=1.0),
                  execution(kind, state, free_retry=True)]
    seen = set()
    for view in views:
        for pod in pods:
            for later in (timedelta(0), timedelta(minutes=11), timedelta(hours=1)):
                action = decide(snap(view, pod), T0 + later)
                if isinstance(action, Transition):
                    seen.add((view.state, action.to))
                    assert can_transition(kind, view.state, action.to), (view, pod, action)
    assert seen  # the sweep did decide transitions


@pytest.mark.parametrize("report,state", [
    (Report(True, None, None, changed=True, pushed=True, pr_url=PR), S.PR_OPENED),
    (Report(False, "x", None, pr_url=PR), S.PR_OPENED),
    (Report(True, None, None, changed=True, pushed=True), S.COMPLETED),
    (Report(True, None, None), S.NEEDS_ATTENTION),
    (Report(False, "exit 1", "agent_error"), S.FAILED),
    (Report(True, None, None, changed=True, pushed=False), S.FAILED),
    # A review is done when its agent is, whatever PR it saw (its parent's) and with no changes.
    (Report(True, None, None, pr_url=PR, review=True), S.COMPLETED),
    (Report(True, None, None, review=True), S.COMPLETED),
    (Report(False, "x", None, pr_url=PR, review=True), S.FAILED),
])
def test_outcome_of_a_run(report: Report, state: State) -> None:
    assert outcome(K.REPO_TASK, report).to is state


def test_outcome_says_why() -> None:
    nothing = outcome(K.REPO_TASK, Report(True, None, None))
    assert nothing.changes == {"errorMessage": "completed without changes"}
    unpushed = outcome(K.REPO_TASK, Report(True, None, None, changed=True))
    assert unpushed.changes["errorKind"] == "git" and unpushed.changes["retryable"] is True
    failed = outcome(K.REPO_TASK, Report(False, None, None))
    assert failed.changes["errorKind"] == "agent_error" and failed.changes["errorMessage"] == "the agent failed"
    unknown = outcome(K.REPO_TASK, Report(False, "boom", "something_new"))
    assert unknown.changes["errorKind"] == "agent_error" and unknown.reason == "boom"


@pytest.mark.parametrize("report,state", [
    (Report(True, None, None), S.COMPLETED),
    # A run has no repository: nothing changed is no reason to ask a person.
    (Report(True, None, None, changed=True, pushed=False), S.COMPLETED),
    (Report(False, "exit 1", "agent_error"), S.FAILED),
    (Report(True, None, None, cost_usd=2.0, budget_usd=1.0), S.FAILED),
])
def test_outcome_of_a_standalone_run(report: Report, state: State) -> None:
    assert outcome(K.RUN, report).to is state


@BOTH
def test_outcome_leads_only_where_the_lifecycle_allows_from_running(kind: ExecutionKind) -> None:
    for success in (True, False):
        for changed, pushed in ((False, False), (True, False), (True, True)):
            for review in (False, True):
                for error_kind in (None, "max_turns", "auth", "rate_limited"):
                    report = Report(success, None, error_kind, changed=changed, pushed=pushed, review=review)
                    assert can_transition(kind, S.RUNNING, outcome(kind, report).to), (kind, report)


def test_a_run_that_reports_a_pull_request_still_ends_as_a_run() -> None:
    assert can_transition(K.RUN, S.RUNNING, outcome(K.RUN, Report(True, None, None, pr_url=PR)).to)


def test_auth_failures_are_not_retried() -> None:
    result = outcome(K.REPO_TASK, Report(False, "bad key", "auth"))
    assert result.changes["retryable"] is False


@BOTH
def test_a_turn_limit(kind: ExecutionKind) -> None:
    # A task's turn limit asks a person; a run has no needs_attention, so its turn limit fails it
    # (not retried), as it did before the unification.
    result = outcome(kind, Report(False, None, "max_turns"))
    assert result.changes["errorKind"] == "max_turns"
    if kind is K.REPO_TASK:
        assert result.to is S.NEEDS_ATTENTION and "retryable" not in result.changes
        assert result.changes["errorMessage"] == "the agent stopped at its maximum number of turns"
    else:
        assert result.to is S.FAILED and result.changes["retryable"] is False
        assert result.changes["errorMessage"] == "the agent failed"
    told = outcome(kind, Report(False, "stopped after 250 turns", "max_turns"))
    assert told.changes["errorMessage"] == told.reason == "stopped after 250 turns"


@BOTH
def test_an_evicted_attempt_is_retried_at_once_without_using_a_retry(kind: ExecutionKind) -> None:
    # Changed for runs: the free retry applies to them too.
    pod = PodStatus(PodPhase.FAILED, "evicted", "node drained")
    failing = decide(snap(started(kind), pod), T0)
    assert isinstance(failing, Transition) and failing.changes["freeRetry"] is True
    assert failing.changes["retryable"] is True and failing.changes["errorKind"] == "evicted"
    view = execution(kind, S.FAILED, retry_count=3, completed_at=T0, free_retry=True)
    assert retry_pending(view)
    action = decide(snap(view, GONE), T0)
    assert isinstance(action, Transition) and action.to is S.QUEUED and "retryCount" not in action.changes


@BOTH
def test_a_task_that_cannot_be_launched_fails_after_the_provision_timeout(kind: ExecutionKind) -> None:
    view = execution(kind, LIFECYCLES[kind].launch_state, updated_at=T0)
    assert isinstance(decide(snap(view, GONE), T0 + timedelta(minutes=9)), Launch)
    action = decide(snap(view, GONE), T0 + timedelta(minutes=11))
    assert isinstance(action, Transition) and action.changes["errorKind"] == "launch_failed"
    assert action.changes["retryable"] is True and not action.stop_agent
    assert action.reason == "the agent could not be launched within 600 s"


@BOTH
def test_a_failed_pod_is_removed_with_its_task(kind: ExecutionKind) -> None:
    pod = PodStatus(PodPhase.FAILED, "image_pull", "bad image")
    action = decide(snap(launched(kind), pod), T0)
    assert isinstance(action, Transition) and action.stop_agent


def test_a_spent_budget_is_not_retried() -> None:
    result = outcome(K.REPO_TASK, Report(False, "budget exceeded", "budget"))
    assert result.changes["retryable"] is False


@BOTH
def test_a_reported_cost_over_the_budget_fails_whatever_the_agent_said(kind: ExecutionKind) -> None:
    result = outcome(kind, Report(True, None, None, changed=True, pushed=True, pr_url=PR,
                                  cost_usd=2.0, budget_usd=1.0))
    assert result.to is S.FAILED and result.changes["errorKind"] == "budget"
    # The runner's report ends its own agent: nothing to stop.
    assert result.changes["retryable"] is False and not result.stop_agent


@pytest.mark.parametrize("state,pod,expected", [
    (S.PR_OPENED, None, S.COMPLETED),
    (S.FAILED, None, S.COMPLETED),
    (S.NEEDS_ATTENTION, None, S.RUNNING),
    (S.RUNNING, None, S.COMPLETED),
    (S.RUNNING, GONE, S.COMPLETED),
    (S.RUNNING, RUNNING_POD, None),
])
def test_a_finished_pipeline_completes_its_parent(state: State, pod: PodStatus | None,
                                                  expected: State | None) -> None:
    view = task(state, launched_at=T0, last_heartbeat_at=T0)
    action = decide(snap(view, pod, pipeline=PipelineView(steps=2, completed=2)), T0)
    if expected is None:
        assert not isinstance(action, Transition)
    else:
        assert isinstance(action, Transition) and action.to is expected
        assert "all 2 pipeline steps completed" in action.reason
    # An unfinished pipeline changes nothing.
    unfinished = decide(snap(view, pod, pipeline=PipelineView(steps=2, completed=1)), T0)
    assert not (isinstance(unfinished, Transition) and "pipeline" in unfinished.reason)


@BOTH
def test_states_needing_the_launcher_and_the_resync(kind: ExecutionKind) -> None:
    lifecycle = LIFECYCLES[kind]
    # Every state an agent may be alive in asks the launcher.
    assert lifecycle.slot_states <= NEEDS_POD_STATUS
    for state in lifecycle.states - {S.FAILED}:
        assert needs_resync(execution(kind, state)) is (state in RECONCILED_STATES)
    assert needs_resync(execution(kind, S.FAILED))  # a retry is pending
    assert not needs_resync(execution(kind, S.FAILED, retryable=False))


@pytest.mark.parametrize("report,cleared", [
    (Report(True, None, None, changed=True, pushed=True), True),             # completed
    (Report(False, "killed", "oom_killed", changed=True, pushed=True), True),  # failed after its push
    (Report(True, None, None, changed=True, pushed=True, pr_url="https://github.com/a/b/pull/1"), True),
    (Report(False, "boom", "crash", changed=True), False),                    # nothing pushed: still to reset
    (Report(True, None, None), False),
])
def test_a_pushed_branch_ends_a_redos_reset(report: Report, cleared: bool) -> None:
    # A redo resets the branch once; its retry must continue from what the agent pushed, not
    # reset again and force-push over it.
    decided = outcome(K.REPO_TASK, report)
    assert ("resetBranch" in decided.changes and decided.changes["resetBranch"] is None) is cleared
    assert "resetBranch" not in outcome(K.RUN, report).changes
