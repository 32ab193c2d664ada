"""Executing workflow runs: dispatch queued runs into free slots, launch the runner without a
repository, take its reports, and repair what went wrong (dead or silent agents, retries due).

Why no stream on the workflow-runs table: a run has four states and every change to it is made
here or in `standalone` (API, runner reports, resync), so each of those paths wakes the
dispatcher itself (`kick`) right after its write. A stream would add a second event source, a
Lambda and a stream ARN to deploy for nothing those calls miss; what a crashed request does miss,
the periodic resync (`resync_runs`, every minute on AWS, every few seconds locally) repairs.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from chalicelib.core import accounting
from chalicelib.core import workflow_runs as core
from chalicelib.core.dispatch import Capacity, QueuedTask, plan_dispatch
from chalicelib.core.schemas import RUNNER_EVENT, STANDALONE_DEFAULT_MAX_CONCURRENT
from chalicelib.core.timefmt import iso
from chalicelib.core.tokens import run_token, run_token_attempt
from chalicelib.exceptions import Conflict, NotFound, Unauthorized
from chalicelib.launch import LaunchSpec, Resources, get_launcher
from chalicelib.observability import logger
from chalicelib.settings import settings
from chalicelib.store import configs, logs, workflow_runs
from chalicelib.store.models import TaskConfigModel, WorkflowRunModel

from .api_url import api_url
from .clock import utcnow
from .secrets import agent_secrets, run_token_secret
from .validation import require_valid

R = core.RunState
QUEUE_LOOKAHEAD = 50
MAX_STEPS = 6
CAS_TRIES = 4
OUTPUT_MAX = 4000


def _config_limits(config_ids: set[str]) -> dict[str, int]:
    return {c.id: int(c.maxConcurrent or STANDALONE_DEFAULT_MAX_CONCURRENT)
            for c in TaskConfigModel.batch_get(list(config_ids))}


def _take_slot(run: WorkflowRunModel, slot_limits: workflow_runs.SlotLimits) -> bool:
    """queued -> running with the slot. No stream wakes a run that lost this race, so it is read
    again here and still started if it waits in the queue."""
    for _ in range(CAS_TRIES):
        try:
            workflow_runs.transition(run, R.RUNNING, utcnow(), limits=slot_limits,
                                     trigger="dispatcher", reason="concurrency slot taken")
            return True
        except workflow_runs.CapacityFull:
            logger.info("workflow_dispatch.capacity_full", extra={"runId": run.id})
            return False
        except workflow_runs.LostRace:
            try:
                run = workflow_runs.get(run.id)
            except NotFound:
                return False
            if R(run.state) is not R.QUEUED:
                return False
    return False


def dispatch_runs() -> list[str]:
    """Start queued runs, oldest first, while slots are free. The per-repo rule of repo tasks
    (`core.dispatch`) applies with the standalone task in place of the repo."""
    head = workflow_runs.queue_head(QUEUE_LOOKAHEAD)
    if not head:
        return []
    config_ids = {run.taskConfigId for run in head}
    limits = _config_limits(config_ids)
    global_used, config_used = workflow_runs.slot_usage(config_ids)
    queue = [QueuedTask(run.id, run.taskConfigId, limits.get(run.taskConfigId, STANDALONE_DEFAULT_MAX_CONCURRENT))
             for run in head]
    plan = plan_dispatch(queue, Capacity(global_used, settings.max_workflow_concurrent, config_used))
    by_id = {run.id: run for run in head}
    started: list[str] = []
    for chosen in plan:
        slot_limits = workflow_runs.SlotLimits(settings.max_workflow_concurrent, chosen.repo_limit)
        if _take_slot(by_id[chosen.id], slot_limits):
            started.append(chosen.id)
    # Launch at once: nothing else would wake these runs before the next resync.
    for run_id in started:
        reconcile_run(run_id)
    return started


def kick() -> None:
    """Dispatch after a write that may have freed a slot or queued a run. Never fails the caller:
    its own write is done, and the resync dispatches again."""
    try:
        dispatch_runs()
    except Exception:
        logger.exception("workflow dispatch failed; the resync will retry")


def limits() -> core.RunLimits:
    return core.RunLimits(stall_threshold=timedelta(milliseconds=settings.stall_threshold_ms),
                          provision_timeout=timedelta(milliseconds=settings.provision_timeout_ms))


def _budget(config: TaskConfigModel | None) -> float | None:
    return float(config.budgetUsd) if config is not None and config.budgetUsd is not None else None


def snapshot(run: WorkflowRunModel, config: TaskConfigModel | None) -> core.RunSnapshot:
    view = workflow_runs.view(run, _budget(config))
    agent = None
    if view.state in (R.RUNNING, R.FAILED) and view.attempt > 0:
        agent = get_launcher().status(run.id, view.attempt)
    return core.RunSnapshot(run=view, agent=agent, limits=limits())


def reconcile_run(run_id: str) -> list[core.RunAction]:
    """Apply decisions until the run rests; returns what was decided, for logs and tests."""
    taken: list[core.RunAction] = []
    for _ in range(MAX_STEPS):
        try:
            run = workflow_runs.get(run_id)
        except NotFound:
            return taken
        config = configs.find(run.taskConfigId)
        action = core.decide_run(snapshot(run, config), utcnow())
        taken.append(action)
        try:
            progressed = execute(run, config, action)
        except workflow_runs.LostRace:
            continue
        if not progressed:
            break
    return taken


def execute(run: WorkflowRunModel, config: TaskConfigModel | None, action: core.RunAction) -> bool:
    """The I/O of one action. True when the run changed and should be looked at again."""
    log = {"runId": run.id, "state": run.state, "action": type(action).__name__, "reason": action.reason}
    if isinstance(action, (core.Noop, core.WaitUntil)):
        logger.debug("workflow_run.reconcile", extra=log)
        return False
    logger.info("workflow_run.reconcile", extra=log)
    if isinstance(action, core.StopAgent):
        get_launcher().cancel(run.id, action.attempt)
        return False
    if isinstance(action, core.Launch):
        if config is None:
            return execute(run, config, core.fail("config_missing", "the standalone task was deleted"))
        try:
            get_launcher().launch(launch_spec(run, config, action.attempt))
        except Exception:
            # Left to the next reconcile; past the provision timeout the run fails instead.
            logger.exception("workflow run launch failed", extra={"runId": run.id, "attempt": action.attempt})
            return False
        workflow_runs.update(run, {"launchedAt": iso(utcnow())}, utcnow())
        return True
    move(run, action, trigger="reconciler")
    return True


def move(run: WorkflowRunModel, action: core.Move, trigger: str) -> WorkflowRunModel:
    """One state change: stops the agent when asked and wakes the dispatcher when a slot was given
    back or a run queued."""
    attempt = int(run.attempt or 0)
    was = R(run.state)
    moved = workflow_runs.transition(run, action.to, utcnow(), dict(action.changes), trigger=trigger,
                                     reason=action.reason)
    if action.stop_agent and attempt > 0:
        get_launcher().cancel(run.id, attempt)
    if was is R.RUNNING or action.to is R.QUEUED:
        kick()
    return moved


def launch_spec(run: WorkflowRunModel, config: TaskConfigModel, attempt: int) -> LaunchSpec:
    environment: Mapping[str, Any] = config.environment or {}
    given = core.RunnerInput(
        run_id=run.id, attempt=attempt, title=config.name, prompt=run.prompt,
        agent_type=config.agentRuntime or "claude-code", heartbeat_interval_ms=settings.heartbeat_interval_ms,
        max_turns=int(config.maxTurns) if config.maxTurns is not None else None, model=config.model,
        budget_usd=_budget(config),
        setup_commands=tuple(str(c) for c in environment.get("setupCommands") or ()),
    )
    token = run_token(run_token_secret(), run.id, attempt)
    return LaunchSpec(
        task_id=run.id, attempt=attempt, environment=core.runner_environment(given, api_url(), token),
        image=environment.get("image"), secrets=agent_secrets(),
        resources=Resources.from_settings(environment.get("resources")),
    )


def resync_runs() -> dict[str, int]:
    """Reconcile every running run and every failed run with a retry to come, then dispatch."""
    seen = errors = 0
    for run_id in workflow_runs.active_ids():
        seen += 1
        try:
            reconcile_run(run_id)
        except Exception:
            errors += 1
            logger.exception("resync failed for workflow run", extra={"runId": run_id})
    return {"runsReconciled": seen, "runErrors": errors, "runsStarted": len(dispatch_runs())}


# ---- the runner's channel -------------------------------------------------------------------


def handle_run_event(run_id: str, token: str | None, body: Any) -> dict[str, Any]:
    """`POST /api/internal/workflow-runs/:id/events`: the task channel's contract (SPEC §9) for a
    run. A report from an attempt that is no longer the run's current one is refused with 409."""
    attempt = run_token_attempt(run_token_secret(), run_id, token or "")
    if attempt is None:
        raise Unauthorized("invalid run token")
    event = require_valid(RUNNER_EVENT, body)
    if event["attempt"] != attempt:
        raise Unauthorized("the run token belongs to another attempt")
    kind = event["kind"]
    if kind == "logs":
        _current_attempt(run_id, attempt)
        now = iso(utcnow())
        lines = [logs.LogLine(line["type"], line["content"], line.get("at") or now) for line in event["lines"]]
        return {"ok": True, "lastSeq": logs.append(run_id, attempt, lines)}
    if kind in ("started", "heartbeat"):
        changes: dict[str, Any] = {"lastHeartbeatAt": iso(utcnow())}
        run = workflow_runs.get(run_id)
        if event.get("costUsd") is not None:
            # The spent figures are fixed for the attempt, and the write is conditional on it.
            changes.update(accounting.with_attempt(accounting.figures(run), event))
        if not workflow_runs.record_progress(run_id, attempt, changes):
            raise Conflict("this attempt is no longer running", **_current(run_id))
        if changes.get("costUsd") is not None:
            if core.over_budget(float(changes["costUsd"]), _budget(configs.find(run.taskConfigId))):
                # The budget is the server's to enforce too: a runner that does not stop is stopped.
                reconcile_run(run_id)
        return {"ok": True}
    for _ in range(CAS_TRIES):
        run = _current_attempt(run_id, attempt)
        try:
            _result(run, event)
            return {"ok": True}
        except workflow_runs.LostRace:
            continue
    raise Conflict("the run kept changing; report again")


def _current(run_id: str) -> dict[str, Any]:
    run = workflow_runs.get(run_id)
    return {"state": run.state, "attempt": int(run.attempt or 0)}


def _current_attempt(run_id: str, attempt: int) -> WorkflowRunModel:
    run = workflow_runs.get(run_id)
    if int(run.attempt or 0) != attempt or R(run.state) is not R.RUNNING:
        raise Conflict("this attempt is no longer current", state=run.state, attempt=int(run.attempt or 0))
    return run


def _result(run: WorkflowRunModel, event: Mapping[str, Any]) -> None:
    config = configs.find(run.taskConfigId)
    totals = accounting.with_attempt(accounting.figures(run), event)
    result = core.RunResult(
        success=event["result"] == "success", cost_usd=totals.get("costUsd"), summary=event.get("summary"),
        error=event.get("error"), error_kind=event.get("errorKind"),
    )
    decision = core.outcome(result, _budget(config))
    summary = event.get("summary")
    reported = {"output": summary[:OUTPUT_MAX] if summary else None, "modelUsed": event.get("model"), **totals}
    changes = {**decision.changes, **{k: v for k, v in reported.items() if v is not None}}
    move(run, core.Move(decision.to, decision.reason, changes, decision.stop_agent), trigger="runner")
