"""Standalone tasks behind the API: definitions without a repository (in the task-configs table)
and their runs, executions of kind `workflow-run`. A run is written here, queued; the stream
wakes the executor, which starts it when a slot is free."""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from chalicelib.core.requests import Request
from chalicelib.core.schemas import (
    AGENT_ALIASES,
    STANDALONE_CREATE,
    STANDALONE_DEFAULT_MAX_CONCURRENT,
    STANDALONE_DEFAULT_MAX_RETRIES,
    STANDALONE_PATCH,
)
from chalicelib.core.states import ExecutionKind, State
from chalicelib.core.templates import render
from chalicelib.engine.clock import utcnow
from chalicelib.exceptions import FieldProblem, ValidationFailed
from chalicelib.store import configs, executions
from chalicelib.store.models import ExecutionModel, TaskConfigModel

from .executions import request
from .templates import _checked, checked_params
from .validation import require_valid

RUN = ExecutionKind.RUN


def _checked_standalone(given: Mapping[str, Any]) -> dict[str, Any]:
    fields = _checked(given)  # the paramsSchema is a valid JSON Schema, the secrets exist
    if fields.get("agentRuntime") is not None:
        fields["agentRuntime"] = AGENT_ALIASES.get(fields["agentRuntime"], fields["agentRuntime"])
    return fields


def create_standalone(body: Any) -> TaskConfigModel:
    fields = _checked_standalone(require_valid(STANDALONE_CREATE, body))
    fields.setdefault("enabled", True)
    fields.setdefault("agentRuntime", "claude-code")
    fields.setdefault("maxRetries", STANDALONE_DEFAULT_MAX_RETRIES)
    fields.setdefault("maxConcurrent", STANDALONE_DEFAULT_MAX_CONCURRENT)
    fields.setdefault("warmPoolSize", 0)
    fields["id"] = str(uuid.uuid4())
    return configs.create(fields, utcnow())


def update_standalone(config: TaskConfigModel, body: Any) -> TaskConfigModel:
    return configs.update(config, _checked_standalone(require_valid(STANDALONE_PATCH, body)), utcnow())


def rendered_standalone(config: TaskConfigModel, params: Any) -> tuple[dict[str, Any], str, str]:
    """A run's checked params (defaults filled), its title (the task's name) and its prompt."""
    filled = checked_params(config.paramsSchema, params)
    return filled, config.name, render(config.promptTemplate or "", filled)


def run_standalone(config: TaskConfigModel, params: Any, trigger: Mapping[str, Any] | None = None,
                   run_id: str | None = None) -> ExecutionModel:
    """A queued run of `config` (with `run_id` when the caller chose it), its prompt rendered with
    `params` (checked against the paramsSchema, defaults filled)."""
    if not config.enabled:
        raise ValidationFailed(f"standalone task {config.id} is disabled", [
            FieldProblem("enabled", "the task is disabled; enable it to run it")])
    filled, title, prompt = rendered_standalone(config, params)
    return executions.create({
        "id": run_id or str(uuid.uuid4()), "type": RUN.value, "state": State.QUEUED.value,
        "taskConfigId": config.id, "title": title, "agentType": config.agentRuntime or "claude-code",
        "params": filled, "triggerParams": filled, "trigger": dict(trigger) if trigger else None,
        "prompt": prompt,
        "maxRetries": int(config.maxRetries if config.maxRetries is not None else STANDALONE_DEFAULT_MAX_RETRIES),
    }, utcnow(), trigger=str((trigger or {}).get("type") or "api"))


def cancel_run(run_id: str) -> ExecutionModel:
    """A queued or running run fails with "Cancelled by user": its agent is stopped, its slots
    given back, and it is never retried automatically."""
    return request(run_id, RUN, Request.CANCEL)


def retry_run(run_id: str) -> ExecutionModel:
    """failed -> queued, with its automatic retries back."""
    return request(run_id, RUN, Request.RETRY)
