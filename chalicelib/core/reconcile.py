"""The reconciler's decisions for every execution, repo task or run: `decide(snapshot, now) ->
Action`, pure.

The executor reads the world into a `Snapshot`, asks `decide`, and applies the one action it gets
with compare-and-swap. Every action carries the reason it was chosen, which becomes the event's
message, so the history of an execution explains itself.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from .actions import Action, Launch, Noop, StopAgent, Transition, WaitUntil, fail
from .failures import FailureKind
from .graph import DepView
from .pull_requests import PrPolicy, PrView, decide_pr
from .states import LIFECYCLES, ExecutionKind, Lifecycle, State
from .subtasks import PipelineView

S = State
F = FailureKind

RETRY_BASE = timedelta(seconds=5)
# A launch the launcher refused (its API failed) is tried again this soon, until the provisioning
# deadline fails the execution.
LAUNCH_RETRY = timedelta(seconds=10)
# An agent asked to stop is looked at again this soon: its end writes nothing that would wake us.
STOP_RECHECK = timedelta(seconds=5)


class PodPhase(StrEnum):
    NOT_FOUND = "not_found"
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class PodStatus:
    """What the launcher knows of one attempt's agent. `reason` names a `FailureKind` when the
    agent failed; whether it is retried is the failure-kind table's to say."""

    phase: PodPhase
    reason: str | None = None
    message: str | None = None

    @property
    def alive(self) -> bool:
        return self.phase in (PodPhase.PENDING, PodPhase.RUNNING)


@dataclass(frozen=True)
class ExecutionView:
    """The fields of an execution row that decisions depend on."""

    id: str
    kind: ExecutionKind
    state: State
    version: int
    attempt: int
    retry_count: int
    max_retries: int
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    launched_at: datetime | None = None
    last_heartbeat_at: datetime | None = None
    retryable: bool = True
    free_retry: bool = False
    cost_usd: float | None = None
    # The standalone task's budget; repo tasks have none.
    budget_usd: float | None = None

    @property
    def lifecycle(self) -> Lifecycle:
        return LIFECYCLES[self.kind]

    @property
    def started(self) -> bool:
        """The attempt's agent has shown it started (a heartbeat, or a repo task's `started`)."""
        return self.state is S.RUNNING and self.last_heartbeat_at is not None


@dataclass(frozen=True)
class Limits:
    stall_threshold: timedelta
    provision_timeout: timedelta


@dataclass(frozen=True)
class Snapshot:
    execution: ExecutionView
    # None when no agent can be alive in the state and nobody asked the launcher.
    pod: PodStatus | None
    limits: Limits
    # The tasks this one waits for (read for pending and waiting_on_deps tasks).
    deps: tuple[DepView, ...] = ()
    # The task's step subtasks, when it has any.
    pipeline: PipelineView | None = None
    # pr_opened tasks: the PR as last observed, the key last acted on, and the repo's policy.
    pr: PrView | None = None
    pr_acted_on: str | None = None
    pr_policy: PrPolicy | None = None


def retry_delay(retry_count: int) -> timedelta:
    return RETRY_BASE * int(2**retry_count)


def retry_pending(execution: ExecutionView) -> bool:
    return execution.state is S.FAILED and execution.retryable and (
        execution.free_retry or execution.retry_count < execution.max_retries
    )


def over_budget(cost_usd: float | None, budget_usd: float | None) -> bool:
    return cost_usd is not None and budget_usd is not None and cost_usd > budget_usd


def budget_exceeded(cost_usd: float, budget_usd: float, *, stop_agent: bool = True) -> Transition:
    return fail(F.BUDGET, f"budget exceeded: the agent's cost ${cost_usd:.4f} passed the budget "
                          f"${budget_usd:.2f}", stop_agent=stop_agent)


def decide(snapshot: Snapshot, now: datetime) -> Action:
    finished = _pipeline_finished(snapshot)
    if finished is not None:
        return finished
    execution = snapshot.execution
    if execution.state in execution.lifecycle.slot_states:
        return _decide_attempt(snapshot, now)
    handler = _DECIDERS.get(execution.state, _decide_resting)
    return handler(snapshot, now)


def _decide_pending(snapshot: Snapshot, now: datetime) -> Action:
    waiting = [d.id for d in snapshot.deps if not d.satisfied]
    if waiting:
        return Transition(to=S.WAITING_ON_DEPS, reason=f"waiting for {', '.join(waiting)}")
    return Transition(to=S.QUEUED, reason="ready to run")


def _decide_waiting(snapshot: Snapshot, now: datetime) -> Action:
    failed = next((d for d in snapshot.deps if d.failed_for_good), None)
    if failed is not None:
        why = "was deleted" if failed.state is None else "failed"
        return fail(F.DEPENDENCY_FAILED, f"dependency {failed.id} {why}")
    waiting = [d.id for d in snapshot.deps if not d.satisfied]
    if waiting:
        return Noop(f"waiting for {', '.join(waiting)}")
    return Transition(to=S.QUEUED, reason="dependencies satisfied")


def _pipeline_finished(snapshot: Snapshot) -> Transition | None:
    """A parent whose steps have all completed completes too, by the transitions SPEC §3 allows
    from where it stands; a parent still running its own agent finishes that first."""
    if snapshot.pipeline is None or not snapshot.pipeline.done:
        return None
    state = snapshot.execution.state
    reason = f"all {snapshot.pipeline.steps} pipeline steps completed"
    if state in (S.PR_OPENED, S.FAILED):
        return Transition(to=S.COMPLETED, reason=reason)
    if state is S.NEEDS_ATTENTION:
        return Transition(to=S.RUNNING, reason=f"{reason}; finishing the parent")
    if state is S.RUNNING and (snapshot.pod is None or not snapshot.pod.alive):
        return Transition(to=S.COMPLETED, reason=reason)
    return None


def _decide_queued(snapshot: Snapshot, now: datetime) -> Action:
    return Noop("waiting for a concurrency slot")


def _pod_failure(pod: PodStatus, started: bool) -> Transition:
    if pod.phase is PodPhase.NOT_FOUND:
        where = "while it ran" if started else "before it started"
        return fail(F.POD_GONE, f"the agent's pod disappeared {where}")
    if pod.phase is PodPhase.SUCCEEDED:
        return fail(F.NO_RESULT, "the agent's pod exited without reporting a result")
    kind = FailureKind.parse(pod.reason) if pod.reason else F.CRASH
    message = pod.message or f"the agent's pod failed ({kind.value})"
    # A failed pod may still hold its node (an image that never pulls): remove it.
    return fail(kind, message, stop_agent=True)


def _decide_attempt(snapshot: Snapshot, now: datetime) -> Action:
    """An execution holding a slot: launch its attempt, watch the agent start, then keep it
    honest (alive, within budget, heard from)."""
    execution, pod, limits = snapshot.execution, snapshot.pod, snapshot.limits
    timeout = int(limits.provision_timeout.total_seconds())
    if execution.launched_at is None and execution.state is execution.lifecycle.launch_state:
        if now - execution.updated_at > limits.provision_timeout:
            return fail(F.LAUNCH_FAILED, f"the agent could not be launched within {timeout} s")
        return Launch(execution.attempt, f"slot taken; launching attempt {execution.attempt}")
    if pod is None or not pod.alive:
        return _pod_failure(pod or PodStatus(PodPhase.NOT_FOUND), execution.started)
    if over_budget(execution.cost_usd, execution.budget_usd):
        assert execution.cost_usd is not None and execution.budget_usd is not None
        return budget_exceeded(execution.cost_usd, execution.budget_usd)
    # A runner may report its start before the launch is written down.
    launched_at = execution.launched_at or execution.updated_at
    if not execution.started:
        if now - launched_at <= limits.provision_timeout:
            return WaitUntil(launched_at + limits.provision_timeout, "agent starting; its start is due by then")
        if pod.phase is PodPhase.PENDING:
            return fail(F.UNSCHEDULABLE, f"the agent did not start within {timeout} s", stop_agent=True)
        # Its pod runs, but the runner never said so: it cannot reach us, and may next time.
        return fail(F.STALLED, f"the agent's runner did not report its start within {timeout} s",
                    stop_agent=True)
    heard = execution.last_heartbeat_at or launched_at
    silent = now - heard
    if silent > limits.stall_threshold:
        return fail(F.STALLED, f"no heartbeat from the agent for {int(silent.total_seconds())} s",
                    stop_agent=True)
    return WaitUntil(heard + limits.stall_threshold, "agent running; stalled if silent until then")


def _decide_failed(snapshot: Snapshot, now: datetime) -> Action:
    execution = snapshot.execution
    if snapshot.pod is not None and snapshot.pod.alive:
        return StopAgent(execution.attempt, f"{execution.lifecycle.noun} failed; stopping its agent")
    if execution.free_retry and execution.retryable:
        return Transition(to=S.QUEUED, reason="retrying: the attempt was lost to the platform, not the agent")
    if not retry_pending(execution):
        return Noop("failed; no automatic retry left")
    due = (execution.completed_at or execution.updated_at) + retry_delay(execution.retry_count)
    if now < due:
        return WaitUntil(due, f"retry {execution.retry_count + 1} of {execution.max_retries} due")
    return Transition(
        to=S.QUEUED,
        reason=f"automatic retry {execution.retry_count + 1} of {execution.max_retries}",
        changes={"retryCount": execution.retry_count + 1},
    )


def _decide_pr_opened(snapshot: Snapshot, now: datetime) -> Action:
    return decide_pr(snapshot.pr, snapshot.pr_acted_on, snapshot.pr_policy or PrPolicy())


def _decide_resting(snapshot: Snapshot, now: datetime) -> Action:
    execution = snapshot.execution
    if snapshot.pod is not None and snapshot.pod.alive:
        return StopAgent(execution.attempt, f"{execution.lifecycle.noun} is {execution.state.value}; stopping its agent")
    return Noop(f"nothing to do while {execution.state.value}")


_DECIDERS: dict[State, Callable[[Snapshot, datetime], Action]] = {
    S.PENDING: _decide_pending,
    S.WAITING_ON_DEPS: _decide_waiting,
    S.QUEUED: _decide_queued,
    S.FAILED: _decide_failed,
    S.PR_OPENED: _decide_pr_opened,
}

# States whose decision depends on what the launcher says about the agent.
NEEDS_POD_STATUS = frozenset({S.PROVISIONING, S.RUNNING, S.FAILED, S.CANCELLED, S.NEEDS_ATTENTION})
NEEDS_DEPS = frozenset({S.PENDING, S.WAITING_ON_DEPS})
# States in which a finished pipeline completes the parent.
NEEDS_PIPELINE = frozenset({S.RUNNING, S.NEEDS_ATTENTION, S.PR_OPENED, S.FAILED})
# States in which the reconciler may still have something to do on its own (with a failed
# execution whose retry is pending): the resync looks at these.
RECONCILED_STATES = frozenset({S.PENDING, S.WAITING_ON_DEPS, S.QUEUED, S.PROVISIONING, S.RUNNING, S.PR_OPENED})


def needs_resync(execution: ExecutionView) -> bool:
    return execution.state in RECONCILED_STATES or retry_pending(execution)


@dataclass(frozen=True)
class Report:
    """The runner's final report for one attempt."""

    success: bool
    error: str | None
    error_kind: str | None
    changed: bool = False
    pushed: bool = False
    pr_url: str | None = None
    # A review agent reads the parent's pull request: it is done when it finishes, with or
    # without changes, and the PR it saw is the parent's, not its own.
    review: bool = False
    # The execution's totals once this report is counted, and its budget.
    cost_usd: float | None = None
    budget_usd: float | None = None


def outcome(kind: ExecutionKind, report: Report) -> Transition:
    """SPEC §3 "Outcome of an agent run", and what the report settles: a branch the agent pushed
    holds the work from then on, so a redo's reset is done (its automatic retry continues from the
    branch rather than reset it again and force-push over what was pushed)."""
    decided = _outcome(kind, report)
    if report.pushed and kind is ExecutionKind.REPO_TASK:
        return replace(decided, changes={**decided.changes, "resetBranch": None})
    return decided


def _outcome(kind: ExecutionKind, report: Report) -> Transition:
    """A run (no repository) completes when its agent succeeds; a reported cost over the budget
    fails it whatever the agent said."""
    if over_budget(report.cost_usd, report.budget_usd):
        assert report.cost_usd is not None and report.budget_usd is not None
        return budget_exceeded(report.cost_usd, report.budget_usd, stop_agent=False)
    failure = FailureKind.parse(report.error_kind)
    can_wait = S.NEEDS_ATTENTION in LIFECYCLES[kind].states
    if report.review and report.success:
        return Transition(to=S.COMPLETED, reason="review finished")
    if report.pr_url and not report.review and S.PR_OPENED in LIFECYCLES[kind].states:
        return Transition(to=S.PR_OPENED, reason=f"pull request opened: {report.pr_url}")
    if not report.success and failure is F.MAX_TURNS and can_wait:
        # The work may be nearly done: a person reads it and resumes with more context.
        message = report.error or "the agent stopped at its maximum number of turns"
        return Transition(to=S.NEEDS_ATTENTION, reason=message,
                          changes={"errorMessage": message, "errorKind": failure.value})
    if not report.success:
        return fail(failure, report.error or "the agent failed")
    if kind is ExecutionKind.RUN:
        return Transition(to=S.COMPLETED, reason="agent finished")
    if report.changed and report.pushed:
        return Transition(to=S.COMPLETED, reason="agent finished; branch pushed")
    if report.changed:
        return fail(F.GIT, "the agent's changes could not be pushed")
    return Transition(
        to=S.NEEDS_ATTENTION,
        reason="completed without changes",
        changes={"errorMessage": "completed without changes"},
    )

