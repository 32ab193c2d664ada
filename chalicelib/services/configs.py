"""Blueprints behind the API: definitions of repo tasks, kept in the task-configs table, and their
runs (repo tasks created from them, rendered with the run's params)."""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from chalicelib.core.naming import branch_name
from chalicelib.core.schemas import AGENT_ALIASES, BLUEPRINT_CREATE, BLUEPRINT_PATCH, RUN_CREATE
from chalicelib.core.templates import render
from chalicelib.engine.clock import utcnow
from chalicelib.exceptions import FieldProblem, NotFound, ValidationFailed
from chalicelib.store import configs, templates
from chalicelib.store.acting import acting_as
from chalicelib.store.models import ExecutionModel, TaskConfigModel, TemplateModel

from .standalone import rendered_standalone, run_standalone
from .tasks import create_task
from .templates import _checked, checked_params
from .validation import require_valid


def _checked_blueprint(given: Mapping[str, Any]) -> dict[str, Any]:
    fields = _checked(given)
    if fields.get("promptTemplateId") is not None:
        try:
            templates.get(fields["promptTemplateId"])
        except NotFound:
            raise ValidationFailed("invalid promptTemplateId", [
                FieldProblem("promptTemplateId", "no template with this id")]) from None
    if fields.get("agentType") is not None:
        fields["agentType"] = AGENT_ALIASES.get(fields["agentType"], fields["agentType"])
    return fields


def _require_complete(fields: Mapping[str, Any]) -> None:
    """A prompt of its own or a linked template's; a repository by id or by URL."""
    problems = []
    if not (fields.get("prompt") or fields.get("promptTemplateId")):
        problems.append(FieldProblem("prompt", "give prompt or promptTemplateId"))
    if not (fields.get("repoId") or fields.get("repoUrl")):
        problems.append(FieldProblem("repoId", "give repoId or repoUrl"))
    if problems:
        raise ValidationFailed(f"invalid request: {', '.join(p.field for p in problems)}", problems)


def create_blueprint(body: Any) -> TaskConfigModel:
    fields = _checked_blueprint(require_valid(BLUEPRINT_CREATE, body))
    _require_complete(fields)
    fields.setdefault("enabled", True)
    fields["id"] = str(uuid.uuid4())
    return configs.create(fields, utcnow())


def update_blueprint(config: TaskConfigModel, body: Any) -> TaskConfigModel:
    changes = _checked_blueprint(require_valid(BLUEPRINT_PATCH, body))
    _require_complete({**{k: getattr(config, k) for k in ("prompt", "promptTemplateId", "repoId", "repoUrl")},
                       **changes})
    return configs.update(config, changes, utcnow())


def delete_blueprint(config: TaskConfigModel) -> None:
    configs.delete(config)


def _schema_of(config: TaskConfigModel, template: TemplateModel | None) -> dict[str, Any] | None:
    """A blueprint's own paramsSchema, else its linked template's."""
    if config.paramsSchema is not None:
        return dict(config.paramsSchema)
    return dict(template.paramsSchema) if template is not None and template.paramsSchema is not None else None


def params_schema(config: TaskConfigModel) -> dict[str, Any] | None:
    """The schema a run of `config` checks its params against."""
    if config.type == "standalone" or config.paramsSchema is not None or not config.promptTemplateId:
        return dict(config.paramsSchema) if config.paramsSchema is not None else None
    try:
        return _schema_of(config, templates.get(config.promptTemplateId))
    except NotFound:
        return None  # the template is gone: the run itself will say so


def _rendered_blueprint(config: TaskConfigModel, params: Any) -> tuple[dict[str, Any], str, str]:
    template = templates.get(config.promptTemplateId) if config.promptTemplateId else None
    prompt = config.prompt or (template.prompt if template else "")
    filled = checked_params(_schema_of(config, template), params)
    return filled, render(config.title or config.name, filled), render(prompt, filled)


def rendered(config: TaskConfigModel, params: Any) -> tuple[dict[str, Any], str, str]:
    """What a run of `config` with `params` would be, as its run makes it: the params checked
    against the paramsSchema with its defaults filled (else the 400 naming every failing path),
    and the title and prompt rendered with them. Nothing is written."""
    if config.type == "standalone":
        return rendered_standalone(config, params)
    return _rendered_blueprint(config, params)


def run_blueprint(config: TaskConfigModel, params: Any, trigger: Mapping[str, Any] | None = None,
                  run_id: str | None = None) -> ExecutionModel:
    """A repo task from `config`, its title and prompt rendered with `params` (checked against the
    paramsSchema, defaults filled). `trigger` names what fired it, kept in the task's metadata;
    `run_id` is the task's id when the caller claimed something for it beforehand."""
    if not config.enabled:
        raise ValidationFailed(f"blueprint {config.id} is disabled", [
            FieldProblem("enabled", "the blueprint is disabled; enable it to run it")])
    filled, title, prompt = _rendered_blueprint(config, params)
    metadata: dict[str, Any] = {"taskConfigId": config.id, "triggerParams": filled}
    if trigger:
        metadata["trigger"] = dict(trigger)
    body = {
        "title": title,
        "prompt": prompt,
        "repoId": config.repoId,
        "repoUrl": config.repoUrl,
        "repoBranch": config.repoBranch,
        "agentType": config.agentType,
        "priority": int(config.priority) if config.priority is not None else None,
        "maxRetries": int(config.maxRetries) if config.maxRetries is not None else None,
        "metadata": metadata,
        "environment": config.environment,
    }
    given = {k: v for k, v in body.items() if v is not None}
    if run_id is None:
        return create_task(given, taskConfigId=config.id)
    return create_task(given, taskConfigId=config.id, id=run_id, branchName=branch_name(str(given["title"]), run_id))


def run_from_request(config: TaskConfigModel, body: Any) -> ExecutionModel:
    return run_config(config, require_valid(RUN_CREATE, body).get("params"), {"type": "manual"})


def run_config(config: TaskConfigModel, params: Any, trigger: Mapping[str, Any] | None = None,
               run_id: str | None = None) -> ExecutionModel:
    """A run of any task config: a repo task for a blueprint, a workflow run for a standalone task.
    Both have an `id` (`run_id` when given)."""
    if trigger and trigger.get("triggerId"):
        # A trigger's firing is the trigger's doing, whoever (or whatever) delivered it.
        with acting_as(f"trigger:{trigger['triggerId']}"):
            return _run(config, params, trigger, run_id)
    return _run(config, params, trigger, run_id)


def _run(config: TaskConfigModel, params: Any, trigger: Mapping[str, Any] | None,
         run_id: str | None) -> ExecutionModel:
    if config.type == "standalone":
        return run_standalone(config, params, trigger, run_id)
    return run_blueprint(config, params, trigger, run_id)
