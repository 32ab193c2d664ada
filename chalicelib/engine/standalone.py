"""Standalone tasks behind the API: definitions without a repository (in the task-configs table)
and their workflow runs. Runs are recorded and queued here, cancelled and retried by hand;
`standalone_runs` starts them and takes the runner's reports."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.core.schemas import (
    AGENT_ALIASES,
    STANDALONE_CREATE,
    STANDALONE_DEFAULT_MAX_CONCURRENT,
    STANDALONE_DEFAULT_MAX_RETRIES,
    STANDALONE_PATCH,
)
from chalicelib.core.templates import render
from chalicelib.core.workflow_runs import CANCELLABLE, RunState, cancel, requeue_by_hand
from chalicelib.exceptions import Conflict, FieldProblem, ValidationFailed
from chalicelib.store import configs, workflow_runs
from chalicelib.store.models import TaskConfigModel, WorkflowRunModel

from . import standalone_runs
from .clock import utcnow
from .templates import _checked, checked_params
from .validation import require_valid

CAS_TRIES = 4


def _checked_standalone(given: Mapping[str, Any]) -> dict[str, Any]:
    fields = _checked(given)  # the paramsSchema is a valid JSON Schema
    if fields.get("agentRuntime") is not None:
        fields["agentRuntime"] = AGENT_ALIASES.get(fields["agentRuntime"], fields["agentRuntime"])
    return fields


def create_standalone(body: Any) -> TaskConfigModel:
    fields = _checked_standalone(require_valid(STANDALONE_CREATE, body))
    fields.setdefault("enabled", True)
    fields.setdefault("agentRuntime", "claude-code")
    fields.setdefault("maxRetries", STANDALONE_DEFAULT_MAX_RETRIES)
    fields.setdefault("maxConcurrent", STANDALONE_DEFAULT_MAX_CONCURRENT)
    fields["id"] = str(uuid.uuid4())
    return configs.create(fields, utcnow())


def update_standalone(config: TaskConfigModel, body: Any) -> TaskConfigModel:
    return configs.update(config, _checked_standalone(require_valid(STANDALONE_PATCH, body)), utcnow())


def run_standalone(config: TaskConfigModel, params: Any, trigger: Mapping[str, Any] | None = None,
                   run_id: str | None = None) -> WorkflowRunModel:
    """A queued workflow run of `config` (with `run_id` when the caller chose it), its prompt
    rendered with `params` (checked against the paramsSchema, defaults filled)."""
    if not config.enabled:
        raise ValidationFailed(f"standalone task {config.id} is disabled", [
            FieldProblem("enabled", "the task is disabled; enable it to run it")])
    filled = checked_params(config.paramsSchema, params)
    run = workflow_runs.create({
        "id": run_id or str(uuid.uuid4()), "taskConfigId": config.id, "params": filled, "triggerParams": filled,
        "trigger": dict(trigger) if trigger else None, "prompt": render(config.promptTemplate or "", filled),
        "maxRetries": int(config.maxRetries if config.maxRetries is not None else STANDALONE_DEFAULT_MAX_RETRIES),
    }, utcnow())
    standalone_runs.kick()
    return run


def _with_retries(run_id: str, act: Callable[[WorkflowRunModel], WorkflowRunModel]) -> WorkflowRunModel:
    for _ in range(CAS_TRIES):
        try:
            return act(workflow_runs.get(run_id))
        except workflow_runs.LostRace:
            continue
    raise Conflict(f"workflow run {run_id} kept changing; try again")


def cancel_run(run_id: str) -> WorkflowRunModel:
    """A queued or running run fails with "Cancelled by user": its agent is stopped, its slots
    given back, and it is never retried automatically."""
    def act(run: WorkflowRunModel) -> WorkflowRunModel:
        if RunState(run.state) not in CANCELLABLE:
            raise Conflict(f"cannot cancel a {run.state} run", state=run.state)
        return standalone_runs.move(run, cancel(workflow_runs.view(run)), trigger="user")

    return _with_retries(run_id, act)


def retry_run(run_id: str) -> WorkflowRunModel:
    """failed -> queued, with its automatic retries back."""
    def act(run: WorkflowRunModel) -> WorkflowRunModel:
        if RunState(run.state) is not RunState.FAILED:
            raise Conflict(f"cannot retry a {run.state} run", state=run.state)
        return standalone_runs.move(run, requeue_by_hand(workflow_runs.view(run)), trigger="user")

    return _with_retries(run_id, act)
