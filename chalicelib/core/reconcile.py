"""The reconciler's decisions: `decide(snapshot, now) -> Action`, pure.

The engine reads the world into a `Snapshot`, asks `decide`, and applies the one action it gets
with compare-and-swap. Every action carries the reason it was chosen, which becomes the event's
message, so the history of a task explains itself.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from . import failures
from .actions import Action, Launch, Noop, StopAgent, Transition, WaitUntil, fail
from .graph import DepView
from .pulls import PrPolicy, PrView, decide_pr
from .states import TaskState
from .subtasks import PipelineView

S = TaskState

RETRY_BASE = timedelta(seconds=5)


class PodPhase(StrEnum):
    NOT_FOUND = "not_found"
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class PodStatus:
    """What the launcher knows of one attempt's agent."""

    phase: PodPhase
    reason: str | None = None
    message: str | None = None
    # Failures the user must fix (a bad image, a pod that cannot be scheduled) are not retried.
    retryable: bool = True
    # The platform took the pod away (eviction): retried without using up `maxRetries`.
    free_retry: bool = False

    @property
    def alive(self) -> bool:
        return self.phase in (PodPhase.PENDING, PodPhase.RUNNING)


@dataclass(frozen=True)
class TaskView:
    """The fields of a task row that decisions depend on."""

    id: str
    state: TaskState
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


@dataclass(frozen=True)
class Limits:
    stall_threshold: timedelta
    provision_timeout: timedelta


@dataclass(frozen=True)
class Snapshot:
    task: TaskView
    # None when the task is in a state where no agent can be alive and nobody asked the launcher.
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


def retry_pending(task: TaskView) -> bool:
    return task.state is S.FAILED and task.retryable and (
        task.free_retry or task.retry_count < task.max_retries
    )


def decide(snapshot: Snapshot, now: datetime) -> Action:
    finished = _pipeline_finished(snapshot)
    if finished is not None:
        return finished
    handler = _DECIDERS.get(snapshot.task.state, _decide_resting)
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
        return fail("dependency_failed", f"dependency {failed.id} {why}", retryable=False)
    waiting = [d.id for d in snapshot.deps if not d.satisfied]
    if waiting:
        return Noop(f"waiting for {', '.join(waiting)}")
    return Transition(to=S.QUEUED, reason="dependencies satisfied")


def _pipeline_finished(snapshot: Snapshot) -> Transition | None:
    """A parent whose steps have all completed completes too, by the transitions SPEC §3 allows
    from where it stands; a parent still running its own agent finishes that first."""
    if snapshot.pipeline is None or not snapshot.pipeline.done:
        return None
    state = snapshot.task.state
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


def _pod_failure(pod: PodStatus, before_start: bool) -> Transition:
    if pod.phase is PodPhase.NOT_FOUND:
        where = "before it started" if before_start else "while it ran"
        return fail("pod_gone", f"the agent's pod disappeared {where}")
    if pod.phase is PodPhase.SUCCEEDED:
        return fail("no_result", "the agent's pod exited without reporting a result")
    kind = pod.reason or "crash"
    message = pod.message or f"the agent's pod failed ({kind})"
    # A failed pod may still hold its node (an image that never pulls): remove it.
    return fail(kind, message, retryable=pod.retryable, free_retry=pod.free_retry, stop_agent=True)


def _decide_provisioning(snapshot: Snapshot, now: datetime) -> Action:
    task, pod = snapshot.task, snapshot.pod
    if task.launched_at is None:
        if now - task.updated_at > snapshot.limits.provision_timeout:
            seconds = int(snapshot.limits.provision_timeout.total_seconds())
            return fail("launch_failed", f"the agent could not be launched within {seconds} s")
        return Launch(task.attempt, f"slot taken; launching attempt {task.attempt}")
    if pod is None or not pod.alive:
        return _pod_failure(pod or PodStatus(PodPhase.NOT_FOUND), before_start=True)
    waited = now - task.launched_at
    if waited > snapshot.limits.provision_timeout:
        seconds = int(snapshot.limits.provision_timeout.total_seconds())
        return fail("unschedulable", f"the agent did not start within {seconds} s", stop_agent=True)
    return Noop("agent starting")


def _decide_running(snapshot: Snapshot, now: datetime) -> Action:
    task, pod = snapshot.task, snapshot.pod
    if pod is None or not pod.alive:
        return _pod_failure(pod or PodStatus(PodPhase.NOT_FOUND), before_start=False)
    last_sign = task.last_heartbeat_at or task.started_at or task.updated_at
    silent = now - last_sign
    if silent > snapshot.limits.stall_threshold:
        seconds = int(silent.total_seconds())
        return fail("stalled", f"no heartbeat from the agent for {seconds} s", stop_agent=True)
    return Noop("agent running")


def _decide_failed(snapshot: Snapshot, now: datetime) -> Action:
    task = snapshot.task
    if snapshot.pod is not None and snapshot.pod.alive:
        return StopAgent(task.attempt, "task failed; stopping its agent")
    if task.free_retry and task.retryable:
        return Transition(to=S.QUEUED, reason="retrying: the attempt was lost to the platform, not the agent")
    if not retry_pending(task):
        return Noop("failed; no automatic retry left")
    due = (task.completed_at or task.updated_at) + retry_delay(task.retry_count)
    if now < due:
        return WaitUntil(due, f"retry {task.retry_count + 1} of {task.max_retries} due")
    return Transition(
        to=S.QUEUED,
        reason=f"automatic retry {task.retry_count + 1} of {task.max_retries}",
        changes={"retryCount": task.retry_count + 1},
    )


def _decide_pr_opened(snapshot: Snapshot, now: datetime) -> Action:
    return decide_pr(snapshot.pr, snapshot.pr_acted_on, snapshot.pr_policy or PrPolicy())


def _decide_resting(snapshot: Snapshot, now: datetime) -> Action:
    task = snapshot.task
    if snapshot.pod is not None and snapshot.pod.alive:
        return StopAgent(task.attempt, f"task is {task.state.value}; stopping its agent")
    return Noop(f"nothing to do while {task.state.value}")


_DECIDERS = {
    S.PENDING: _decide_pending,
    S.WAITING_ON_DEPS: _decide_waiting,
    S.QUEUED: _decide_queued,
    S.PROVISIONING: _decide_provisioning,
    S.RUNNING: _decide_running,
    S.FAILED: _decide_failed,
    S.PR_OPENED: _decide_pr_opened,
}

# States whose decision depends on what the launcher says about the agent.
NEEDS_POD_STATUS = frozenset({S.PROVISIONING, S.RUNNING, S.FAILED, S.CANCELLED, S.NEEDS_ATTENTION})
NEEDS_DEPS = frozenset({S.PENDING, S.WAITING_ON_DEPS})
# States in which a finished pipeline completes the parent.
NEEDS_PIPELINE = frozenset({S.RUNNING, S.NEEDS_ATTENTION, S.PR_OPENED, S.FAILED})


@dataclass(frozen=True)
class RunReport:
    """The runner's final report for one attempt."""

    success: bool
    changed: bool
    pushed: bool
    pr_url: str | None
    error: str | None
    error_kind: str | None
    # A review agent reads the parent's pull request: it is done when it finishes, with or
    # without changes, and the PR it saw is the parent's, not its own.
    review: bool = False


def outcome(report: RunReport) -> Transition:
    """SPEC §3 "Outcome of an agent run"."""
    if report.review and report.success:
        return Transition(to=S.COMPLETED, reason="review finished")
    if report.pr_url and not report.review:
        return Transition(to=S.PR_OPENED, reason=f"pull request opened: {report.pr_url}")
    if not report.success and report.error_kind == "max_turns":
        # The work may be nearly done: a person reads it and resumes with more context.
        message = report.error or "the agent stopped at its maximum number of turns"
        return Transition(to=S.NEEDS_ATTENTION, reason=message,
                          changes={"errorMessage": message, "errorKind": "max_turns"})
    if not report.success:
        kind = report.error_kind or "agent_error"
        return fail(kind, report.error or "the agent failed", retryable=failures.retryable(kind))
    if report.changed and report.pushed:
        return Transition(to=S.COMPLETED, reason="agent finished; branch pushed")
    if report.changed:
        return fail("git", "the agent's changes could not be pushed")
    return Transition(
        to=S.NEEDS_ATTENTION,
        reason="completed without changes",
        changes={"errorMessage": "completed without changes"},
    )
