"""Task templates behind the API: keep them, and run one as a repo task."""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from chalicelib.core.connections import listed
from chalicelib.core.params import check_params
from chalicelib.core.schemas import AGENT_ALIASES, TEMPLATE_CREATE, TEMPLATE_RUN, TEMPLATE_UPDATE
from chalicelib.core.templates import render
from chalicelib.engine.clock import utcnow
from chalicelib.exceptions import FieldProblem, NotFound, ValidationFailed
from chalicelib.store import repos, templates
from chalicelib.store.models import ExecutionModel, TemplateModel

from .connections import check_connections
from .repos import _normalised
from .secrets import check_agent_secrets
from .tasks import create_task
from .validation import check_network, require_valid


def _invalid(field: str, problem: str) -> ValidationFailed:
    return ValidationFailed(f"invalid {field}", [FieldProblem(field, problem)])


def _checked(given: Mapping[str, Any]) -> dict[str, Any]:
    """What the schema cannot see, refused now rather than when the template runs."""
    fields = dict(given)
    check_agent_secrets((fields.get("environment") or {}).get("secrets") or [], "environment.secrets")
    check_connections(listed(fields.get("environment")), "environment.connections")
    check_network(fields.get("environment"))
    if fields.get("agentType") is not None:
        fields["agentType"] = AGENT_ALIASES.get(fields["agentType"], fields["agentType"])
    if fields.get("repoUrl") is not None:
        fields["repoUrl"] = _normalised(fields["repoUrl"], "repoUrl")
    if fields.get("repoId") is not None:
        try:
            repos.get(fields["repoId"])
        except NotFound:
            raise _invalid("repoId", "no repository with this id") from None
    if fields.get("paramsSchema") is not None:
        from jsonschema import Draft202012Validator  # at first use: it weighs on every cold start
        from jsonschema.exceptions import SchemaError

        try:
            Draft202012Validator.check_schema(fields["paramsSchema"])
        except SchemaError as error:
            raise _invalid("paramsSchema", f"is not a valid JSON Schema: {error.message}") from None
    return fields


def create_template(body: Any) -> TemplateModel:
    fields = _checked(require_valid(TEMPLATE_CREATE, body))
    fields["id"] = str(uuid.uuid4())
    return templates.create(fields, utcnow())


def update_template(template_id: str, body: Any) -> TemplateModel:
    template = templates.get(template_id)
    changes = _checked(require_valid(TEMPLATE_UPDATE, body))
    return templates.update(template, changes, utcnow()) if changes else template


def delete_template(template_id: str) -> None:
    templates.delete(templates.get(template_id))


def checked_params(schema: Mapping[str, Any] | None, params: Any) -> dict[str, Any]:
    """`params` with the schema's defaults filled in, or the 400 naming every failing path."""
    filled, problems = check_params(schema, params)
    if problems:
        raise ValidationFailed(f"invalid params: {', '.join(p.field for p in problems)}", problems)
    return filled


def task_body(template: TemplateModel, run: Mapping[str, Any]) -> dict[str, Any]:
    """The `POST /api/tasks` body a run of `template` stands for: title and prompt rendered with
    the run's params. A run that names a repository replaces the template's repository whole: a
    repoId from one and a repoUrl from the other would name two."""
    params = checked_params(template.paramsSchema, run.get("params"))
    repo_of = run if run.get("repoId") or run.get("repoUrl") else {
        "repoId": template.repoId, "repoUrl": template.repoUrl,
    }
    body = {
        "title": render(run.get("title") or template.title or template.name, params),
        "prompt": render(template.prompt, params),
        "repoId": repo_of.get("repoId"),
        "repoUrl": repo_of.get("repoUrl"),
        "agentType": template.agentType,
        "priority": run.get("priority", template.priority),
        "metadata": {**(template.metadata or {}), "templateId": template.id},
        "environment": template.environment,
    }
    return {name: value for name, value in body.items() if value is not None}


def run_template(template_id: str, body: Any) -> ExecutionModel:
    template = templates.get(template_id)
    return create_task(task_body(template, require_valid(TEMPLATE_RUN, body)))
