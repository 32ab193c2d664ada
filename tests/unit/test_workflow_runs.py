"""The decisions about one workflow run (`core.workflow_runs`), table-driven."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core.reconcile import PodPhase, PodStatus
from chalicelib.core.workflow_runs import (
    CANCELLED_MESSAGE,
    Launch,
    Move,
    Noop,
    RunLimits,
    RunnerInput,
    RunResult,
    RunSnapshot,
    RunState,
    RunView,
    StopAgent,
    WaitUntil,
    cancel,
    decide_run,
    outcome,
    requeue_by_hand,
    runner_environment,
)

R = RunState
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LIMITS = RunLimits(stall_threshold=timedelta(minutes=15), provision_timeout=timedelta(minutes=10))
ALIVE = PodStatus(PodPhase.RUNNING)
BASE = RunView(id="r1", state=R.RUNNING, attempt=1, retry_count=0, max_retries=1,
               updated_at=NOW - timedelta(seconds=30), started_at=NOW - timedelta(seconds=30),
               launched_at=NOW - timedelta(seconds=29), last_heartbeat_at=NOW - timedelta(seconds=5))


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def decide(agent: PodStatus | None = ALIVE, **fields: object) -> object:
    return decide_run(RunSnapshot(run=replace(BASE, **fields), agent=agent, limits=LIMITS), NOW)  # type: ignore[arg-type]


def failed(seconds_ago: float, **fields: object) -> dict[str, object]:
    return {"state": R.FAILED, "finished_at": ago(seconds_ago), "updated_at": ago(seconds_ago), **fields}


@pytest.mark.parametrize("name,agent,fields,expected", [
    ("queued waits for a slot", None, {"state": R.QUEUED}, Noop),
    ("a fresh slot launches", None, {"launched_at": None}, Launch),
    ("a launch that never happened fails", None, {"launched_at": None, "started_at": ago(601)}, Move),
    ("a live agent runs", ALIVE, {}, Noop),
    ("a vanished agent fails", PodStatus(PodPhase.NOT_FOUND), {}, Move),
    ("a crashed agent fails", PodStatus(PodPhase.FAILED, "crash", "exit 3"), {}, Move),
    ("an agent that exited without a result fails", PodStatus(PodPhase.SUCCEEDED), {}, Move),
    ("a silent agent stalls", ALIVE, {"last_heartbeat_at": ago(901)}, Move),
    ("a pod pending too long fails", PodStatus(PodPhase.PENDING), {"launched_at": ago(601)}, Move),
    ("over budget stops", ALIVE, {"cost_usd": 2.0, "budget_usd": 1.0}, Move),
    ("within budget runs", ALIVE, {"cost_usd": 0.5, "budget_usd": 1.0}, Noop),
    ("a failed run's live agent is stopped", ALIVE, failed(1), StopAgent),
    ("a retry waits for its backoff", None, failed(4), WaitUntil),
    ("a retry is due after 5 s", None, failed(5), Move),
    ("no retry left", None, failed(100, retry_count=1), Noop),
    ("a cancelled run is not retried", None, failed(100, retryable=False), Noop),
    ("completed rests", None, {"state": R.COMPLETED}, Noop),
])
def test_decide_run(name: str, agent: PodStatus | None, fields: dict[str, object], expected: type) -> None:
    assert isinstance(decide(agent, **fields), expected), name


@pytest.mark.parametrize("fields,kind,retryable,stops", [
    ({"launched_at": None, "started_at": ago(601)}, "launch_failed", True, False),
    ({"last_heartbeat_at": ago(901)}, "stalled", True, True),
    ({"cost_usd": 2.0, "budget_usd": 1.0}, "budget", False, True),
])
def test_failures_say_why_and_whether_a_retry_helps(fields: dict[str, object], kind: str, retryable: bool,
                                                     stops: bool) -> None:
    action = decide(ALIVE, **fields)
    assert isinstance(action, Move) and action.to is R.FAILED
    assert (action.changes["errorKind"], action.changes["retryable"], action.stop_agent) == (kind, retryable, stops)


@pytest.mark.parametrize("agent,kind,retryable", [
    (PodStatus(PodPhase.NOT_FOUND), "pod_gone", True),
    (PodStatus(PodPhase.FAILED, "crash", "the runner exited with code 1"), "crash", True),
    (PodStatus(PodPhase.FAILED, "image_pull", "bad image", retryable=False), "image_pull", False),
])
def test_a_dead_agent_fails_the_run(agent: PodStatus, kind: str, retryable: bool) -> None:
    action = decide(agent)
    assert isinstance(action, Move) and action.changes["errorKind"] == kind
    assert action.changes["retryable"] is retryable


@pytest.mark.parametrize("retry_count,due_after", [(0, 5), (1, 10), (2, 20)])
def test_backoff_is_five_seconds_doubling(retry_count: int, due_after: int) -> None:
    fields = failed(1, retry_count=retry_count, max_retries=3)
    action = decide(None, **fields)
    assert isinstance(action, WaitUntil) and action.at == ago(1) + timedelta(seconds=due_after)
    due = decide(None, **failed(due_after, retry_count=retry_count, max_retries=3))
    assert isinstance(due, Move) and due.to is R.QUEUED and due.changes == {"retryCount": retry_count + 1}


@pytest.mark.parametrize("result,budget,to,kind", [
    (RunResult(True, 0.01, "done", None, None), None, R.COMPLETED, None),
    (RunResult(True, 0.01, "done", None, None), 1.0, R.COMPLETED, None),
    (RunResult(True, 2.0, "done", None, None), 1.0, R.FAILED, "budget"),
    (RunResult(False, 2.0, None, "budget exceeded: ...", "budget"), 1.0, R.FAILED, "budget"),
    (RunResult(False, 0.01, None, "simulated failure", "agent_error"), None, R.FAILED, "agent_error"),
    (RunResult(False, None, None, None, None), None, R.FAILED, "agent_error"),
    (RunResult(False, None, None, "Invalid API key", "auth"), None, R.FAILED, "auth"),
])
def test_outcome(result: RunResult, budget: float | None, to: RunState, kind: str | None) -> None:
    move = outcome(result, budget)
    assert move.to is to and move.changes.get("errorKind") == kind
    if kind is not None:
        assert move.changes["retryable"] is (kind == "agent_error")
    if kind == "budget":
        assert str(move.changes["errorMessage"]).startswith("budget exceeded")


def test_cancel_fails_for_good_and_stops_only_a_running_agent() -> None:
    running = cancel(BASE)
    assert running.to is R.FAILED and running.changes["errorMessage"] == CANCELLED_MESSAGE == "Cancelled by user"
    assert running.changes["retryable"] is False and running.stop_agent
    assert not cancel(replace(BASE, state=R.QUEUED)).stop_agent
    assert requeue_by_hand(BASE).changes == {"retryCount": 0}


def test_the_runner_gets_no_repository_and_the_limits() -> None:
    env = runner_environment(RunnerInput(run_id="r1", attempt=2, title="weekly", prompt="p", agent_type="claude-code",
                                         heartbeat_interval_ms=1000, max_turns=7, budget_usd=2.5,
                                         setup_commands=("pip install x",)), "http://api", "tok")
    assert env["OPTIO_RUN_KIND"] == "workflow-run" and env["OPTIO_TASK_ID"] == "r1" and env["OPTIO_ATTEMPT"] == "2"
    assert env["OPTIO_MAX_TURNS"] == "7" and env["OPTIO_BUDGET_USD"] == "2.5"
    assert env["OPTIO_SETUP_COMMANDS"] == '["pip install x"]'
    assert not {"OPTIO_REPO_URL", "OPTIO_BRANCH_NAME", "OPTIO_MODEL"} & set(env)
