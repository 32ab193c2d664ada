"""The one executor: reconcile an execution (snapshot -> decide -> execute) and apply every action,
the reconciler's and the requests', with compare-and-swap.

A lost race is not an error here: the row moved, so read it again and decide again.
"""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from chalicelib import observability
from chalicelib.core import actions
from chalicelib.core import reconcile as core
from chalicelib.core import subtasks as subtasks_core
from chalicelib.core.connections import listed
from chalicelib.core.dispatch import SlotLimits
from chalicelib.core.failures import FailureKind
from chalicelib.core.graph import DepView
from chalicelib.core.network import configured_network
from chalicelib.core.prompts import TaskContext, review_prompt
from chalicelib.core.requests import Trigger
from chalicelib.core.runner_env import Repository, RunnerInput, runner_environment
from chalicelib.core.states import ExecutionKind, State, can_transition, takes_slot
from chalicelib.core.timefmt import iso, parse_iso
from chalicelib.core.tokens import run_token
from chalicelib.exceptions import NotFound
from chalicelib.launch import LaunchSpec, Resources, get_launcher
from chalicelib.observability import logger
from chalicelib.settings import settings
from chalicelib.store import claims, configs, executions, repos
from chalicelib.store.models import ExecutionModel, TaskConfigModel

from . import pull_requests, timers, warm_pools
from .api_url import api_url
from .clock import utcnow
from .connections import ConnectionMissing, agent_connections
from .credentials import agent_secrets, run_token_secret
from .limits import slot_limits, timings

S = State
K = ExecutionKind
MAX_STEPS = 6


def budget(row: ExecutionModel) -> float | None:
    """A run's budget is its standalone task's; repo tasks have none."""
    if executions.kind_of(row) is not K.RUN:
        return None
    config = configs.find(str(row.taskConfigId))
    return float(config.budgetUsd) if config is not None and config.budgetUsd is not None else None


def snapshot(row: ExecutionModel) -> core.Snapshot:
    view = executions.view(row, budget(row))
    pod = None
    if view.state in core.NEEDS_POD_STATUS and view.attempt > 0:
        pod = agent_status(row, view.attempt)
    if view.kind is K.RUN:
        return core.Snapshot(execution=view, pod=pod, limits=timings())
    deps: tuple[DepView, ...] = ()
    if view.state in core.NEEDS_DEPS and row.dependsOn:
        deps = dep_views([str(d) for d in row.dependsOn])
    pipeline = None
    if view.state in core.NEEDS_PIPELINE:
        pipeline = subtasks_core.pipeline([subtask_view(t) for t in executions.subtasks(row.id)])
    if view.state is S.PR_OPENED:
        return core.Snapshot(execution=view, pod=pod, limits=timings(), deps=deps, pipeline=pipeline,
                             pr=pull_requests.observed(row), pr_acted_on=row.prActedOn,
                             pr_policy=pull_requests.policy(row))
    return core.Snapshot(execution=view, pod=pod, limits=timings(), deps=deps, pipeline=pipeline)


def agent_status(row: ExecutionModel, attempt: int) -> core.PodStatus:
    """The attempt's agent: in the warm runner it was handed to, or in its own pod or process."""
    if row.warmPod and attempt == int(row.attempt or 0):
        return get_launcher().warm_status(row.warmPod)
    return get_launcher().status(row.id, attempt)


def stop_agent(row: ExecutionModel, attempt: int) -> None:
    if row.warmPod and attempt == int(row.attempt or 0):
        get_launcher().stop_warm(row.warmPod)
    else:
        get_launcher().cancel(row.id, attempt)


def dep_views(dep_ids: list[str]) -> tuple[DepView, ...]:
    found = {t.id: executions.view(t) for t in executions.batch(dep_ids)}
    return tuple(
        DepView(dep_id, found[dep_id].state, core.retry_pending(found[dep_id]))
        if dep_id in found else DepView(dep_id, None)
        for dep_id in dep_ids
    )


def subtask_view(row: ExecutionModel) -> subtasks_core.SubtaskView:
    return subtasks_core.SubtaskView(
        id=row.id, task_type=row.taskType, state=State(row.state),
        blocks_parent=bool(row.blocksParent), order=int(row.subtaskOrder or 0),
    )


def reconcile_related(execution_id: str, parent_id: str | None) -> None:
    """A task that finished, failed, was cancelled or deleted may release the tasks waiting for
    it and may finish its parent's pipeline."""
    for dependent in executions.dependents(execution_id):
        reconcile(dependent)
    if parent_id:
        reconcile(parent_id)


def reconcile(execution_id: str, wake_up: bool = True) -> list[actions.Action]:
    """Apply decisions until the execution rests; returns what was decided, for logs and tests.
    An execution resting until a due time is woken then, unless `wake_up` is off (the resync,
    which comes round again anyway, sets no wake-ups)."""
    taken: list[actions.Action] = []
    for _ in range(MAX_STEPS):
        try:
            row = executions.get(execution_id)
        except NotFound:
            return taken
        action = core.decide(snapshot(row), utcnow())
        taken.append(action)
        if wake_up and isinstance(action, actions.WaitUntil):
            timers.wake_at(row.id, action.at)
        elif wake_up and isinstance(action, actions.StopAgent):
            timers.wake_at(row.id, utcnow() + core.STOP_RECHECK)
        try:
            progressed = execute(row, action)
        except executions.LostRace:
            continue
        if not progressed:
            break
    return taken


def launch_failed(execution_id: str, attempt: int, why: str) -> list[actions.Action]:
    """Lambda gave up on the launch of this attempt: no Job will come of it. An attempt still
    waiting for its agent to start fails at once as `launch_failed` (retried as the failure table
    says), rather than after the launch grace as a pod gone; then the execution is decided again.
    A later attempt, or one whose agent has started, is left as it is."""
    try:
        row = executions.get(execution_id)
    except NotFound:
        return []
    view = executions.view(row, None)
    waiting = (view.attempt == attempt and view.state is view.lifecycle.launch_state
               and view.launched_at is not None and not view.started)
    if waiting:
        try:
            # The Job may exist after all (the launcher failed past creating it): stop it.
            execute(row, actions.fail(FailureKind.LAUNCH_FAILED, f"the agent could not be launched: {why}",
                                      stop_agent=True))
        except executions.LostRace:
            pass  # it moved meanwhile: decided below from where it is now
    return reconcile(execution_id)


def give_up(execution_id: str, error: Exception) -> None:
    """The execution could not be reconciled however often it was tried (a bug, or a row an
    older version wrote): it fails as `internal_error`, not retried (a retry would meet the
    same), so nothing keeps failing on it. Whatever stands in the way is logged, never raised."""
    message = f"Optio could not handle this task: {type(error).__name__}: {error}"[:1000]
    try:
        row = executions.get(execution_id)
        if can_transition(executions.kind_of(row), State(row.state), S.FAILED):
            execute(row, actions.fail(FailureKind.INTERNAL_ERROR, message, stop_agent=True))
            return
    except Exception:
        logger.exception("giving up on the execution failed too", extra={"executionId": execution_id})
        return
    logger.error("gave up on an execution that cannot fail from its state",
                 extra={"executionId": execution_id, "state": row.state, "error": message})


def execute(row: ExecutionModel, action: actions.Action, trigger: str = Trigger.RECONCILER.value) -> bool:
    """Do the I/O for one action. True when the execution changed and should be looked at again."""
    log = {"executionId": row.id, "kind": row.type, "state": row.state, "action": type(action).__name__,
           "reason": action.reason}
    if isinstance(action, (actions.Noop, actions.WaitUntil)):
        logger.debug("reconcile", extra=log)
        return False
    logger.info("reconcile", extra=log)
    if isinstance(action, actions.StopAgent):
        stop_agent(row, action.attempt)
        return False
    if isinstance(action, actions.MergePr):
        return pull_requests.merge(row, action)
    if isinstance(action, actions.LaunchReview):
        return launch_review(row)
    if isinstance(action, actions.Launch):
        return _launch(row, action)
    try:
        apply(row, action, trigger)
    except executions.CapacityFull:
        logger.info("reconcile.capacity_full", extra={"executionId": row.id, "to": action.to.value})
        return False
    return True


def apply(row: ExecutionModel, transition: actions.Transition, trigger: str,
          extra: Mapping[str, Any] | None = None, limits: SlotLimits | None = None) -> ExecutionModel:
    """Write one transition (with the slot it takes or gives back, within `limits` or the ones
    of the execution's scope), then its effects: the agent of the attempt it ends is stopped, a
    merged PR closes its issue. LostRace and CapacityFull reach the caller, who reads again and
    decides again."""
    kind, current, attempt = executions.kind_of(row), State(row.state), int(row.attempt or 0)
    if limits is None and takes_slot(kind, current, transition.to):
        limits = slot_limits(kind, executions.scope_of(row))
    moved = executions.transition(row, transition.to, trigger=trigger, message=transition.reason, now=utcnow(),
                                  changes={**transition.changes, **(extra or {})}, limits=limits)
    _record(moved, current, trigger, transition.reason)
    if transition.stop_agent and attempt > 0:
        stop_agent(moved, attempt)
    if transition.effect is actions.Effect.CLOSE_ISSUE:
        pull_requests.close_linked_issue(moved)
    elif transition.effect is actions.Effect.COMMENT_ON_PR:
        pull_requests.comment_on_pr(moved, transition.reason)
    return moved


def _record(moved: ExecutionModel, was: State, trigger: str, reason: str) -> None:
    """One structured log line and the CloudWatch metrics of a transition."""
    kind, to = executions.kind_of(moved), State(moved.state)
    logger.info("execution.transition", extra={
        "executionId": moved.id, "kind": kind.value, "from": was.value, "to": to.value, "trigger": trigger,
        "reason": reason, "version": int(moved.version), "attempt": int(moved.attempt or 0),
    })
    to_start_ms = None
    if was is S.PROVISIONING and to is S.RUNNING and moved.startedAt:
        to_start_ms = (parse_iso(moved.startedAt) - parse_iso(moved.createdAt)).total_seconds() * 1000
    cost = float(moved.costUsd) if was is S.RUNNING and moved.costUsd is not None else None
    failure = str(moved.errorKind) if to is S.FAILED and moved.errorKind else None
    observability.transition(kind.value, to.value, to_start_ms, cost, failure)


def _launch(row: ExecutionModel, action: actions.Launch) -> bool:
    try:
        spec, warm_pool_size = launch_input(row, action.attempt)
    except NotFound as missing:
        repo_gone = executions.kind_of(row) is K.REPO_TASK and not isinstance(missing, ConnectionMissing)
        kind = FailureKind.REPO_MISSING if repo_gone else FailureKind.CONFIG_MISSING
        return execute(row, actions.fail(kind, str(missing)))
    # An idle warm runner of its pool takes the attempt at once; the launch is written with it.
    # Without a pool nothing is read for it.
    if warm_pool_size and warm_pools.hand_over(row, spec):
        return True
    try:
        get_launcher().launch(spec)
    except Exception:
        # Tried again soon; past the provision timeout the execution fails instead.
        logger.exception("launch failed", extra={"executionId": row.id, "attempt": action.attempt})
        timers.wake_at(row.id, utcnow() + core.LAUNCH_RETRY)
        return False
    executions.update(row, {"launchedAt": iso(utcnow())}, utcnow())
    return True


def launch_input(row: ExecutionModel, attempt: int) -> tuple[LaunchSpec, int]:
    """What the launcher needs for one attempt, and the warmPoolSize of its repo or standalone task;
    NotFound when that is gone."""
    if executions.kind_of(row) is K.RUN:
        config = configs.find(str(row.taskConfigId))
        if config is None:
            raise NotFound("the standalone task was deleted")
        given, image, resources = _run_input(row, config, attempt)
        scope = (config.environment or {}).get("secrets")
        wired = listed(config.environment)
        network = configured_network(config.environment)
        warm_pool_size = int(config.warmPoolSize or 0)
    else:
        try:
            repo = repos.get(str(row.repoId))
        except NotFound:
            raise NotFound("the task's repository is no longer registered") from None
        given = RunnerInput(execution_id=row.id, attempt=attempt, title=row.title,
            prompt=row.nextPrompt or row.prompt, agent_type=row.agentType,
            heartbeat_interval_ms=settings.heartbeat_interval_ms, max_turns=int(repo.maxTurnsCoding),
            model=row.model or repo.model, setup_commands=[str(c) for c in repo.setupCommands or []],
            repository=Repository(
                url=str(row.repoUrl), base_branch=str(row.repoBranch), branch_name=str(row.branchName),
                custom_command=repo.customCommand,
                resume_session_id=row.sessionId if row.resumeSession else None,
                reset_branch=bool(row.resetBranch), github_api_url=settings.github_api_url,
                issue_number=pull_requests.issue_number(row),
            ),
        )
        image, resources = repo.image, None
        # The task's own list (from its blueprint or template) before its repository's.
        scope = (row.environment or {}).get("secrets", (repo.environment or {}).get("secrets"))
        wired = listed(row.environment if "connections" in (row.environment or {}) else repo.environment)
        network = configured_network(repo.environment)
        warm_pool_size = int(repo.warmPoolSize or 0)
    agent = agent_connections(wired, scope)
    token = run_token(run_token_secret(), row.id, attempt)
    spec = LaunchSpec(execution_id=row.id, attempt=attempt,
                      environment={**runner_environment(given, api_url(), token), **agent.environment},
                      image=image, secrets=agent_secrets(agent.scope), resources=resources or Resources(),
                      **LaunchSpec.network_of(network))
    return spec, warm_pool_size


def _run_input(row: ExecutionModel, config: TaskConfigModel,
               attempt: int) -> tuple[RunnerInput, str | None, Resources | None]:
    environment: Mapping[str, Any] = config.environment or {}
    given = RunnerInput(execution_id=row.id, attempt=attempt, title=config.name, prompt=row.prompt,
        agent_type=config.agentRuntime or "claude-code", heartbeat_interval_ms=settings.heartbeat_interval_ms,
        max_turns=int(config.maxTurns) if config.maxTurns is not None else None, model=config.model,
        budget_usd=float(config.budgetUsd) if config.budgetUsd is not None else None,
        setup_commands=tuple(str(c) for c in environment.get("setupCommands") or ()),
    )
    return given, environment.get("image"), Resources.from_settings(environment.get("resources"))


def launch_review(parent: ExecutionModel) -> bool:
    """The automatic review: claimed per pull request with a conditional put first, so two
    reconcilers seeing the same PR start one review between them."""
    key = f"auto-review#{parent.id}#{parent.prUrl}"
    if claims.claim(key, parent.id, utcnow()) is not None:
        return False
    try:
        review = create_review(parent)
    except Exception:
        claims.release(key, parent.id)
        raise
    logger.info("pr.review_launched", extra={"taskId": parent.id, "reviewTaskId": review.id})
    return True


def create_review(parent: ExecutionModel) -> ExecutionModel:
    """A blocking `review` subtask reading the parent's pull request."""
    context = TaskContext(title=parent.title, prompt=parent.prompt, branch_name=str(parent.branchName),
                          pr_url=parent.prUrl)
    given = subtasks_core.NewSubtask(title=f"Review: {parent.title}"[:200], prompt=review_prompt(context),
                                     task_type="review")
    order = executions.next_subtask_order(parent.id)
    fields = subtasks_core.subtask_row(parent.attribute_values, str(uuid.uuid4()), given, order, None)
    return executions.create(fields, utcnow())
