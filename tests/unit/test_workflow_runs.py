"""The decisions about one run of a standalone task, table-driven: the one decision of every
execution (`reconcile.decide`, `reconcile.outcome`, `requests.decide_request`) with kind RUN."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core.actions import Action, Launch, Noop, StopAgent, Transition, WaitUntil
from chalicelib.core.reconcile import (
    ExecutionView,
    Limits,
    PodPhase,
    PodStatus,
    Report,
    Snapshot,
    decide,
    outcome,
)
from chalicelib.core.requests import Refused, Request, decide_request
from chalicelib.core.runner_env import RUNNER_RUN_KIND, RunnerInput, runner_environment
from chalicelib.core.states import LIFECYCLES, ExecutionKind, State

R = State
RUN = ExecutionKind.RUN
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LIMITS = Limits(stall_threshold=timedelta(minutes=15), provision_timeout=timedelta(minutes=10))
ALIVE = PodStatus(PodPhase.RUNNING)
BASE = ExecutionView(id="r1", kind=RUN, state=R.RUNNING, version=1, attempt=1, retry_count=0, max_retries=1,
                     created_at=NOW - timedelta(minutes=1), updated_at=NOW - timedelta(seconds=30),
                     started_at=NOW - timedelta(seconds=30), launched_at=NOW - timedelta(seconds=29),
                     last_heartbeat_at=NOW - timedelta(seconds=5))


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def run(**fields: object) -> ExecutionView:
    return replace(BASE, **fields)  # type: ignore[arg-type]


def decide_run(agent: PodStatus | None = ALIVE, **fields: object) -> Action:
    return decide(Snapshot(execution=run(**fields), pod=agent, limits=LIMITS), NOW)


def failed(seconds_ago: float, **fields: object) -> dict[str, object]:
    return {"state": R.FAILED, "completed_at": ago(seconds_ago), "updated_at": ago(seconds_ago), **fields}


def test_a_run_has_four_states_and_runs_while_it_holds_its_slot() -> None:
    lifecycle = LIFECYCLES[RUN]
    assert lifecycle.states == {R.QUEUED, R.RUNNING, R.COMPLETED, R.FAILED}
    assert lifecycle.launch_state is R.RUNNING and lifecycle.slot_states == {R.RUNNING}
    assert lifecycle.cancelled_state is R.FAILED


@pytest.mark.parametrize("name,agent,fields,expected", [
    ("queued waits for a slot", None, {"state": R.QUEUED}, Noop),
    ("a fresh slot launches", None, {"launched_at": None}, Launch),
    # Changed: the launch deadline counts from the entry into running (the row's update), which
    # also sets startedAt; it was startedAt.
    ("a launch that never happened fails", None, {"launched_at": None, "updated_at": ago(601)}, Transition),
    ("a live agent runs", ALIVE, {}, WaitUntil),
    ("a vanished agent fails", PodStatus(PodPhase.NOT_FOUND), {}, Transition),
    ("a crashed agent fails", PodStatus(PodPhase.FAILED, "crash", "exit 3"), {}, Transition),
    ("an agent that exited without a result fails", PodStatus(PodPhase.SUCCEEDED), {}, Transition),
    ("a silent agent stalls", ALIVE, {"last_heartbeat_at": ago(901)}, Transition),
    # Changed: "not started" is "no heartbeat yet" (as for a task), not the pod's phase.
    ("a pod pending too long fails", PodStatus(PodPhase.PENDING), {"launched_at": ago(601), "last_heartbeat_at": None},
     Transition),
    ("a pod pending within the deadline waits", PodStatus(PodPhase.PENDING),
     {"launched_at": ago(599), "last_heartbeat_at": None}, WaitUntil),
    ("over budget stops", ALIVE, {"cost_usd": 2.0, "budget_usd": 1.0}, Transition),
    ("within budget runs", ALIVE, {"cost_usd": 0.5, "budget_usd": 1.0}, WaitUntil),
    ("a failed run's live agent is stopped", ALIVE, failed(1), StopAgent),
    ("a retry waits for its backoff", None, failed(4), WaitUntil),
    ("a retry is due after 5 s", None, failed(5), Transition),
    ("no retry left", None, failed(100, retry_count=1), Noop),
    ("a cancelled run is not retried", None, failed(100, retryable=False), Noop),
    ("completed rests", None, {"state": R.COMPLETED}, Noop),
])
def test_decide_run(name: str, agent: PodStatus | None, fields: dict[str, object], expected: type) -> None:
    assert isinstance(decide_run(agent, **fields), expected), name


@pytest.mark.parametrize("agent,fields,kind,retryable,stops", [
    (ALIVE, {"launched_at": None, "updated_at": ago(601)}, "launch_failed", True, False),
    (ALIVE, {"last_heartbeat_at": ago(901)}, "stalled", True, True),
    (ALIVE, {"cost_usd": 2.0, "budget_usd": 1.0}, "budget", False, True),
    # A running pod whose runner never reported within the deadline stalled (retried); only a pod
    # still pending is unschedulable, not retried (the failure-kind table).
    (ALIVE, {"launched_at": ago(601), "last_heartbeat_at": None}, "stalled", True, True),
    (PodStatus(PodPhase.PENDING), {"launched_at": ago(601), "last_heartbeat_at": None}, "unschedulable", False, True),
])
def test_failures_say_why_and_whether_a_retry_helps(agent: PodStatus, fields: dict[str, object], kind: str,
                                                     retryable: bool, stops: bool) -> None:
    action = decide_run(agent, **fields)
    assert isinstance(action, Transition) and action.to is R.FAILED
    assert (action.changes["errorKind"], action.changes["retryable"], action.stop_agent) == (kind, retryable, stops)


@pytest.mark.parametrize("agent,kind,retryable", [
    (PodStatus(PodPhase.NOT_FOUND), "pod_gone", True),
    (PodStatus(PodPhase.FAILED, "crash", "the runner exited with code 1"), "crash", True),
    (PodStatus(PodPhase.FAILED, "image_pull", "bad image"), "image_pull", False),
    (PodStatus(PodPhase.FAILED, "oom_killed", "out of memory"), "oom_killed", True),
    (PodStatus(PodPhase.FAILED, "evicted", "node drained"), "evicted", True),
])
def test_a_dead_agent_fails_the_run(agent: PodStatus, kind: str, retryable: bool) -> None:
    action = decide_run(agent)
    assert isinstance(action, Transition) and action.changes["errorKind"] == kind
    assert action.changes["retryable"] is retryable


def test_an_evicted_run_is_retried_at_once_without_using_a_retry() -> None:
    # Changed: runs get the free retry too (they had none).
    evicted = decide_run(PodStatus(PodPhase.FAILED, "evicted", "node drained"))
    assert isinstance(evicted, Transition) and evicted.changes["freeRetry"] is True
    action = decide_run(None, **failed(0, retry_count=1, free_retry=True))
    assert isinstance(action, Transition) and action.to is R.QUEUED and "retryCount" not in action.changes


@pytest.mark.parametrize("retry_count,due_after", [(0, 5), (1, 10), (2, 20)])
def test_backoff_is_five_seconds_doubling(retry_count: int, due_after: int) -> None:
    fields = failed(1, retry_count=retry_count, max_retries=3)
    action = decide_run(None, **fields)
    assert isinstance(action, WaitUntil) and action.at == ago(1) + timedelta(seconds=due_after)
    due = decide_run(None, **failed(due_after, retry_count=retry_count, max_retries=3))
    assert isinstance(due, Transition) and due.to is R.QUEUED and due.changes == {"retryCount": retry_count + 1}


@pytest.mark.parametrize("result,to,kind", [
    (Report(True, None, None, cost_usd=0.01), R.COMPLETED, None),
    (Report(True, None, None, cost_usd=0.01, budget_usd=1.0), R.COMPLETED, None),
    (Report(True, None, None, cost_usd=2.0, budget_usd=1.0), R.FAILED, "budget"),
    (Report(False, "budget exceeded: ...", "budget", cost_usd=2.0, budget_usd=1.0), R.FAILED, "budget"),
    (Report(False, "simulated failure", "agent_error", cost_usd=0.01), R.FAILED, "agent_error"),
    (Report(False, None, None), R.FAILED, "agent_error"),
    (Report(False, "Invalid API key", "auth"), R.FAILED, "auth"),
    # A run has no needs_attention: its turn limit fails it, for good.
    (Report(False, "stopped after 7 turns", "max_turns"), R.FAILED, "max_turns"),
])
def test_outcome(result: Report, to: State, kind: str | None) -> None:
    move = outcome(RUN, result)
    assert move.to is to and move.changes.get("errorKind") == kind
    if kind is not None:
        assert move.changes["retryable"] is (kind == "agent_error")
    if kind == "budget":
        assert str(move.changes["errorMessage"]).startswith("budget exceeded")
    # The runner ends its own agent with its report.
    assert not move.stop_agent


def test_cancel_fails_for_good_and_stops_only_a_running_agent() -> None:
    running = decide_request(BASE, Request.CANCEL)
    assert isinstance(running, tuple) and len(running) == 1
    step = running[0]
    assert step.to is R.FAILED and step.changes["errorMessage"] == step.reason == "Cancelled by user"
    assert step.changes["errorKind"] == "cancelled"
    assert step.changes["retryable"] is False and step.stop_agent
    queued = decide_request(run(state=R.QUEUED), Request.CANCEL)
    assert isinstance(queued, tuple) and queued[0].to is R.FAILED and not queued[0].stop_agent
    retried = decide_request(run(state=R.FAILED), Request.RETRY)
    assert isinstance(retried, tuple) and retried[0].to is R.QUEUED and retried[0].changes == {"retryCount": 0}
    assert retried[0].reason == "retried by user"


@pytest.mark.parametrize("state,request_,message", [
    (R.COMPLETED, Request.CANCEL, "cannot cancel a completed run"),
    (R.FAILED, Request.CANCEL, "cannot cancel a failed run"),
    (R.RUNNING, Request.RETRY, "cannot retry a running run"),
    (R.COMPLETED, Request.RETRY, "cannot retry a completed run"),
    (R.FAILED, Request.RESUME, "a run cannot resume"),
])
def test_a_run_refuses_what_its_state_does_not_allow(state: State, request_: Request, message: str) -> None:
    assert decide_request(run(state=state), request_) == Refused(message, state)


def test_the_runner_gets_no_repository_and_the_limits() -> None:
    env = runner_environment(RunnerInput(execution_id="r1", attempt=2, title="weekly", prompt="p",
                                         agent_type="claude-code", heartbeat_interval_ms=1000, max_turns=7,
                                         budget_usd=2.5, setup_commands=("pip install x",)), "http://api", "tok")
    assert env["OPTIO_RUN_KIND"] == RUNNER_RUN_KIND == "workflow-run"
    assert env["OPTIO_TASK_ID"] == "r1" and env["OPTIO_ATTEMPT"] == "2"
    assert env["OPTIO_MAX_TURNS"] == "7" and env["OPTIO_BUDGET_USD"] == "2.5"
    assert env["OPTIO_SETUP_COMMANDS"] == '["pip install x"]'
    assert env["OPTIO_API_URL"] == "http://api" and env["OPTIO_RUN_TOKEN"] == "tok"
    assert not {"OPTIO_REPO_URL", "OPTIO_BRANCH_NAME", "OPTIO_MODEL", "OPTIO_REPO_BRANCH"} & set(env)


def test_a_run_without_limits_passes_none() -> None:
    env = runner_environment(RunnerInput(execution_id="r1", attempt=1, title="t", prompt="p",
                                         agent_type="codex", heartbeat_interval_ms=1000), "http://api", "tok")
    assert not {"OPTIO_MAX_TURNS", "OPTIO_BUDGET_USD", "OPTIO_SETUP_COMMANDS", "OPTIO_MODEL"} & set(env)
    assert all(isinstance(value, str) for value in env.values())
