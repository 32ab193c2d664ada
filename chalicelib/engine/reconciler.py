"""Reconcile one task: snapshot -> decide -> execute, under compare-and-swap.

A lost race is not an error here: the row moved, so read it again and decide again.
"""
from __future__ import annotations

from datetime import timedelta

from chalicelib.core import actions
from chalicelib.core import reconcile as core
from chalicelib.core import subtasks as subtasks_core
from chalicelib.core.graph import DepView
from chalicelib.core.runner_env import RunnerInput, runner_environment
from chalicelib.core.states import SLOT_STATES, TaskState, can_transition
from chalicelib.core.timefmt import iso
from chalicelib.core.tokens import run_token
from chalicelib.exceptions import NotFound
from chalicelib.launch import LaunchSpec, get_launcher
from chalicelib.observability import logger
from chalicelib.settings import settings
from chalicelib.store import repos, tasks
from chalicelib.store.models import TaskModel

from . import pull_requests
from .api_url import api_url
from .clock import utcnow
from .pull_requests import issue_number
from .secrets import agent_secrets, run_token_secret

MAX_STEPS = 6


def limits() -> core.Limits:
    return core.Limits(
        stall_threshold=timedelta(milliseconds=settings.stall_threshold_ms),
        provision_timeout=timedelta(milliseconds=settings.provision_timeout_ms),
    )


def snapshot(task: TaskModel) -> core.Snapshot:
    view = tasks.view(task)
    pod = None
    if view.state in core.NEEDS_POD_STATUS and view.attempt > 0:
        pod = get_launcher().status(task.id, view.attempt)
    deps: tuple[DepView, ...] = ()
    if view.state in core.NEEDS_DEPS and task.dependsOn:
        deps = dep_views([str(d) for d in task.dependsOn])
    pipeline = None
    if view.state in core.NEEDS_PIPELINE:
        pipeline = subtasks_core.pipeline([subtask_view(t) for t in tasks.subtasks(task.id)])
    if view.state is TaskState.PR_OPENED:
        return core.Snapshot(task=view, pod=pod, limits=limits(), deps=deps, pipeline=pipeline,
                             pr=pull_requests.observed(task), pr_acted_on=task.prActedOn,
                             pr_policy=pull_requests.policy(task))
    return core.Snapshot(task=view, pod=pod, limits=limits(), deps=deps, pipeline=pipeline)


def dep_views(dep_ids: list[str]) -> tuple[DepView, ...]:
    found = {t.id: tasks.view(t) for t in tasks.batch(dep_ids)}
    return tuple(
        DepView(dep_id, found[dep_id].state, core.retry_pending(found[dep_id]))
        if dep_id in found else DepView(dep_id, None)
        for dep_id in dep_ids
    )


def subtask_view(task: TaskModel) -> subtasks_core.SubtaskView:
    return subtasks_core.SubtaskView(
        id=task.id, task_type=task.taskType, state=TaskState(task.state),
        blocks_parent=bool(task.blocksParent), order=int(task.subtaskOrder or 0),
    )


def reconcile_related(task_id: str, parent_id: str | None) -> None:
    """A task that finished, failed or was cancelled may release the tasks waiting for it and
    may finish its parent's pipeline."""
    for dependent in tasks.dependents(task_id):
        reconcile(dependent)
    if parent_id:
        reconcile(parent_id)


def reconcile(task_id: str) -> list[actions.Action]:
    """Apply decisions until the task rests; returns what was decided, for logs and tests."""
    taken: list[actions.Action] = []
    for _ in range(MAX_STEPS):
        try:
            task = tasks.get(task_id)
        except NotFound:
            return taken
        now = utcnow()
        action = core.decide(snapshot(task), now)
        taken.append(action)
        try:
            progressed = execute(task, action)
        except tasks.LostRace:
            continue
        if not progressed:
            break
    return taken


def give_up(task_id: str, error: Exception) -> None:
    """The task could not be reconciled however often it was tried (a bug, or a row an older
    version wrote): it fails as `internal_error`, not retried (a retry would meet the same), so
    nothing keeps failing on it. Whatever stands in the way is logged, never raised."""
    message = f"Optio could not handle this task: {type(error).__name__}: {error}"[:1000]
    try:
        task = tasks.get(task_id)
        if can_transition(TaskState(task.state), TaskState.FAILED):
            execute(task, actions.fail("internal_error", message, retryable=False, stop_agent=True))
            return
    except Exception:
        logger.exception("giving up on the task failed too", extra={"taskId": task_id})
        return
    logger.error("gave up on a task that cannot fail from its state",
                 extra={"taskId": task_id, "state": task.state, "error": message})


def execute(task: TaskModel, action: actions.Action) -> bool:
    """Do the I/O for one action. True when the task changed and should be looked at again."""
    log = {"taskId": task.id, "state": task.state, "action": type(action).__name__,
           "reason": action.reason}
    if isinstance(action, (actions.Noop, actions.WaitUntil)):
        logger.debug("reconcile", extra=log)
        return False
    logger.info("reconcile", extra=log)
    if isinstance(action, actions.StopAgent):
        get_launcher().cancel(task.id, action.attempt)
        return False
    if isinstance(action, actions.MergePr):
        return pull_requests.merge(task, action)
    if isinstance(action, actions.LaunchReview):
        return pull_requests.launch_review(task)
    if isinstance(action, actions.Launch):
        try:
            spec = launch_spec(task, action.attempt)
        except NotFound:
            return execute(task, actions.fail("repo_missing", "the task's repository is no longer registered",
                                           retryable=False))
        try:
            get_launcher().launch(spec)
        except Exception:
            # Left to the next reconcile; past the provision timeout the task fails instead.
            logger.exception("launch failed", extra={"taskId": task.id, "attempt": action.attempt})
            return False
        tasks.update(task, {"launchedAt": iso(utcnow())}, utcnow())
        return True
    attempt = int(task.attempt)
    try:
        tasks.transition(
            task, action.to, trigger="reconciler", message=action.reason, now=utcnow(),
            changes=dict(action.changes), limits=slot_limits(task) if action.to in SLOT_STATES else None,
        )
    except tasks.CapacityFull:
        logger.info("reconcile.capacity_full", extra={"taskId": task.id, "to": action.to.value})
        return False
    if action.stop_agent:
        get_launcher().cancel(task.id, attempt)
    if action.effect == "close_issue":
        pull_requests.close_linked_issue(task)
    return True


def slot_limits(task: TaskModel) -> tasks.SlotLimits:
    return tasks.SlotLimits(settings.max_concurrent, int(repos.get(task.repoId).maxConcurrentTasks))


def launch_spec(task: TaskModel, attempt: int) -> LaunchSpec:
    repo = repos.get(task.repoId)
    given = RunnerInput(
        task_id=task.id,
        attempt=attempt,
        title=task.title,
        prompt=task.nextPrompt or task.prompt,
        repo_url=task.repoUrl,
        repo_branch=task.repoBranch,
        branch_name=task.branchName,
        agent_type=task.agentType,
        max_turns=int(repo.maxTurnsCoding),
        model=task.model or repo.model,
        setup_commands=[str(c) for c in repo.setupCommands or []],
        custom_command=repo.customCommand,
        resume_session_id=task.sessionId if task.resumeSession else None,
        reset_branch=bool(task.resetBranch),
        heartbeat_interval_ms=settings.heartbeat_interval_ms,
        github_api_url=settings.github_api_url,
        issue_number=issue_number(task),
    )
    token = run_token(run_token_secret(), task.id, attempt)
    return LaunchSpec(
        task_id=task.id, attempt=attempt,
        environment=runner_environment(given, api_url(), token), image=repo.image,
        secrets=agent_secrets(),
    )
