"""Runs of standalone tasks: their states, the transitions between them, and every decision about
one run (pure). The engine reads a run into a `RunSnapshot`, asks `decide_run`, and applies the
one action it gets with compare-and-swap; every action carries the reason it was chosen."""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from . import failures

# The actions a run shares with a repo task, re-exported; `Move` is its own (runs have their own states).
from .actions import Launch as Launch
from .actions import Noop as Noop
from .actions import StopAgent as StopAgent
from .actions import WaitUntil as WaitUntil
from .reconcile import PodPhase, PodStatus, retry_delay


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
# A run holds its concurrency slots exactly while running: taken on queued -> running, released
# on the way out, in the same transaction as the state change.
SLOT_STATES = frozenset({R.RUNNING})

CANCELLED_MESSAGE = "Cancelled by user"
BUDGET_KIND = "budget"


def can_transition(current: RunState, target: RunState) -> bool:
    return target in TRANSITIONS[current]


@dataclass(frozen=True)
class RunView:
    """The fields of a run row that decisions depend on."""

    id: str
    state: RunState
    attempt: int
    retry_count: int
    max_retries: int
    updated_at: datetime
    retryable: bool = True
    started_at: datetime | None = None
    finished_at: datetime | None = None
    launched_at: datetime | None = None
    last_heartbeat_at: datetime | None = None
    cost_usd: float | None = None
    budget_usd: float | None = None


@dataclass(frozen=True)
class RunLimits:
    stall_threshold: timedelta
    provision_timeout: timedelta


@dataclass(frozen=True)
class RunSnapshot:
    run: RunView
    # What the launcher says of the current attempt's agent; None when nobody asked.
    agent: PodStatus | None
    limits: RunLimits


@dataclass(frozen=True)
class Move:
    to: RunState
    reason: str
    changes: Mapping[str, object] = field(default_factory=dict)
    stop_agent: bool = False


RunAction = Noop | WaitUntil | Launch | StopAgent | Move


def retry_pending(run: RunView) -> bool:
    return run.state is R.FAILED and run.retryable and run.retry_count < run.max_retries


def over_budget(cost_usd: float | None, budget_usd: float | None) -> bool:
    return cost_usd is not None and budget_usd is not None and cost_usd > budget_usd


def fail(kind: str, message: str, *, stop_agent: bool = False) -> Move:
    changes = {"errorMessage": message, "errorKind": kind, "retryable": failures.retryable(kind)}
    return Move(to=R.FAILED, reason=message, changes=changes, stop_agent=stop_agent)


def budget_exceeded(cost_usd: float, budget_usd: float) -> Move:
    return fail(BUDGET_KIND, f"budget exceeded: the agent's cost ${cost_usd:.4f} passed the budget "
                             f"${budget_usd:.2f}", stop_agent=True)


def cancel(run: RunView) -> Move:
    """A person's cancel: `failed`, never retried automatically, its agent stopped."""
    return fail("cancelled", CANCELLED_MESSAGE, stop_agent=run.state is R.RUNNING)


def requeue_by_hand(run: RunView) -> Move:
    """A person's retry: failed -> queued with its automatic retries back."""
    return Move(to=R.QUEUED, reason="retried by user", changes={"retryCount": 0})


def decide_run(snapshot: RunSnapshot, now: datetime) -> RunAction:
    run = snapshot.run
    if run.state is R.RUNNING:
        return _decide_running(snapshot, now)
    if run.state is R.FAILED:
        return _decide_failed(snapshot, now)
    if run.state is R.QUEUED:
        return Noop("waiting for a concurrency slot")
    return Noop("completed")


def _agent_failure(agent: PodStatus) -> Move:
    if agent.phase is PodPhase.NOT_FOUND:
        return fail("pod_gone", "the agent's process disappeared while it ran")
    if agent.phase is PodPhase.SUCCEEDED:
        return fail("no_result", "the agent exited without reporting a result")
    kind = agent.reason or "crash"
    move = fail(kind, agent.message or f"the agent failed ({kind})", stop_agent=True)
    if agent.retryable:
        return move
    return Move(to=move.to, reason=move.reason, changes={**move.changes, "retryable": False}, stop_agent=True)


def _decide_running(snapshot: RunSnapshot, now: datetime) -> RunAction:
    run, agent, limits = snapshot.run, snapshot.agent, snapshot.limits
    started = run.started_at or run.updated_at
    if run.launched_at is None:
        if now - started > limits.provision_timeout:
            seconds = int(limits.provision_timeout.total_seconds())
            return fail("launch_failed", f"the agent could not be launched within {seconds} s")
        return Launch(run.attempt, f"slot taken; launching attempt {run.attempt}")
    if agent is None or not agent.alive:
        return _agent_failure(agent or PodStatus(PodPhase.NOT_FOUND))
    if over_budget(run.cost_usd, run.budget_usd):
        assert run.cost_usd is not None and run.budget_usd is not None
        return budget_exceeded(run.cost_usd, run.budget_usd)
    if agent.phase is PodPhase.PENDING and now - run.launched_at > limits.provision_timeout:
        seconds = int(limits.provision_timeout.total_seconds())
        return fail("unschedulable", f"the agent did not start within {seconds} s", stop_agent=True)
    silent = now - (run.last_heartbeat_at or run.launched_at)
    if silent > limits.stall_threshold:
        return fail("stalled", f"no heartbeat from the agent for {int(silent.total_seconds())} s",
                    stop_agent=True)
    return Noop("agent running")


def _decide_failed(snapshot: RunSnapshot, now: datetime) -> RunAction:
    run = snapshot.run
    if snapshot.agent is not None and snapshot.agent.alive:
        return StopAgent(run.attempt, "run failed; stopping its agent")
    if not retry_pending(run):
        return Noop("failed; no automatic retry left")
    due = (run.finished_at or run.updated_at) + retry_delay(run.retry_count)
    if now < due:
        return WaitUntil(due, f"retry {run.retry_count + 1} of {run.max_retries} due")
    return Move(to=R.QUEUED, reason=f"automatic retry {run.retry_count + 1} of {run.max_retries}",
                changes={"retryCount": run.retry_count + 1})


@dataclass(frozen=True)
class RunResult:
    """The runner's final report for one attempt of a run."""

    success: bool
    cost_usd: float | None
    summary: str | None
    error: str | None
    error_kind: str | None


def outcome(result: RunResult, budget_usd: float | None) -> Move:
    """Success -> `completed` with the agent's summary as the output; failure -> `failed` with the
    reason. A reported cost over the budget fails the run whatever the agent said: the runner
    stops its agent at the budget, and the server does not take a success beyond it either."""
    if over_budget(result.cost_usd, budget_usd):
        assert result.cost_usd is not None and budget_usd is not None
        move = budget_exceeded(result.cost_usd, budget_usd)
        return Move(to=move.to, reason=move.reason, changes=move.changes)
    if not result.success:
        kind = result.error_kind or "agent_error"
        return fail(kind, result.error or "the agent failed")
    return Move(to=R.COMPLETED, reason="agent finished")


RUN_KIND = "workflow-run"


@dataclass(frozen=True)
class RunnerInput:
    """What one attempt of a run needs: the runner's input (SPEC §9) without a repository."""

    run_id: str
    attempt: int
    title: str
    prompt: str
    agent_type: str
    heartbeat_interval_ms: int
    max_turns: int | None = None
    model: str | None = None
    budget_usd: float | None = None
    setup_commands: tuple[str, ...] = ()


def runner_environment(given: RunnerInput, api_url: str, run_token: str) -> dict[str, str]:
    """`OPTIO_RUN_KIND` tells the runner to work in its scratch directory (no clone, no push) and
    to report to the run's channel instead of a task's."""
    env = {
        "OPTIO_RUN_KIND": RUN_KIND,
        "OPTIO_TASK_ID": given.run_id,
        "OPTIO_ATTEMPT": str(given.attempt),
        "OPTIO_API_URL": api_url,
        "OPTIO_RUN_TOKEN": run_token,
        "OPTIO_TASK_TITLE": given.title,
        "OPTIO_PROMPT": given.prompt,
        "OPTIO_AGENT_TYPE": given.agent_type,
        "OPTIO_HEARTBEAT_INTERVAL_MS": str(given.heartbeat_interval_ms),
    }
    if given.max_turns is not None:
        env["OPTIO_MAX_TURNS"] = str(given.max_turns)
    if given.model:
        env["OPTIO_MODEL"] = given.model
    if given.budget_usd is not None:
        env["OPTIO_BUDGET_USD"] = str(given.budget_usd)
    if given.setup_commands:
        env["OPTIO_SETUP_COMMANDS"] = json.dumps(list(given.setup_commands))
    return env
