"""Rows as the API shows them."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalice.app import Request
from pynamodb.models import Model

from chalicelib.core.connections import secrets_of
from chalicelib.core.subtasks import SubtaskStatus
from chalicelib.exceptions import FieldProblem, ValidationFailed
from chalicelib.store import logs
from chalicelib.store.models import (
    ApiKeyModel,
    CommentModel,
    ConnectionModel,
    ExecutionEventModel,
    ExecutionLogModel,
    ExecutionModel,
    RepoModel,
    SecretModel,
    TaskConfigModel,
    TemplateModel,
    TriggerModel,
    UserModel,
)

from .http import natural, paging, query

_INTERNAL = frozenset(
    {"queuePartition", "queueSort", "activePartition", "slotScope", "retryable", "freeRetry",
     "taskConfigId", "spentCostUsd", "spentInputTokens", "spentOutputTokens", "params", "triggerParams",
     "trigger"}
)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _attributes(row: Model) -> dict[str, Any]:
    return {name: _plain(getattr(row, name)) for name in row.get_attributes()}


def task_json(task: ExecutionModel) -> dict[str, Any]:
    body = {k: v for k, v in _attributes(task).items() if k not in _INTERNAL}
    for name in ("prUrl", "prNumber", "prState", "prChecksStatus", "prReviewStatus", "costUsd",
                 "inputTokens", "outputTokens", "modelUsed", "resultSummary", "errorMessage",
                 "startedAt", "completedAt", "parentId", "metadata", "createdBy"):
        body.setdefault(name, None)
    return body


# What a list of tasks shows of each (`GET /api/tasks?view=summary`): without the prompt, the PR's
# details and the rest, a row is a few hundred bytes, and a list polled while tasks run stays light.
SUMMARY_FIELDS = ("id", "type", "title", "state", "agentType", "repoId", "repoUrl", "priority", "prUrl", "prNumber",
                  "prState", "prChecksStatus", "costUsd", "createdAt", "queuedAt", "startedAt", "completedAt",
                  "updatedAt", "createdBy")


def task_summary_json(task: ExecutionModel) -> dict[str, Any]:
    return {name: _plain(getattr(task, name)) for name in SUMMARY_FIELDS}


def repo_json(repo: RepoModel) -> dict[str, Any]:
    body = _attributes(repo)
    # Rows from before warm pools have no size: none.
    body["warmPoolSize"] = body["warmPoolSize"] or 0
    return body


def event_json(event: ExecutionEventModel) -> dict[str, Any]:
    body = {"from": event.fromState, "to": event.toState, "trigger": event.trigger,
            "message": event.message, "at": event.at}
    # Events from before actors were recorded (and migrated ones) keep their shape.
    if event.actor:
        body["actor"] = event.actor
    return body


def log_json(line: ExecutionLogModel) -> dict[str, Any]:
    return {"seq": int(line.seq), "attempt": int(line.attempt), "type": line.logType,
            "content": line.content, "at": line.at}


def api_key_json(key: ApiKeyModel) -> dict[str, Any]:
    return {"id": key.id, "name": key.name, "tokenPrefix": key.tokenPrefix, "createdAt": key.createdAt,
            "userId": key.userId, "role": key.role or "admin", "expiresAt": key.expiresAt}


def user_json(user: UserModel) -> dict[str, Any]:
    # The identity binding stays inside: it is the provider's, and names nobody to a reader.
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role, "disabled": user.disabled,
            "signedInBefore": user.identity is not None, "lastSignInAt": user.lastSignInAt,
            "createdBy": user.createdBy, "createdAt": user.createdAt, "updatedAt": user.updatedAt}


def comment_json(comment: CommentModel) -> dict[str, Any]:
    return {"id": comment.id, "taskId": comment.taskId, "author": comment.author, "body": comment.body,
            "createdAt": comment.createdAt, "updatedAt": comment.updatedAt}


def template_json(template: TemplateModel) -> dict[str, Any]:
    return _attributes(template)


def status_json(status: SubtaskStatus) -> dict[str, Any]:
    """Pipeline progress: how the blocking subtasks stand."""
    return {"allComplete": status.all_complete, "total": status.total, "pending": status.pending,
            "running": status.running, "completed": status.completed, "failed": status.failed}


def connection_json(connection: ConnectionModel) -> dict[str, Any]:
    """Every field (null when unset), and the secrets it needs by name: a connection holds no value."""
    body = {name: _plain(getattr(connection, name)) for name in connection.get_attributes()}
    return {**body, "secrets": secrets_of(body)}


def secret_json(secret: SecretModel) -> dict[str, Any]:
    return {"name": secret.name, "createdAt": secret.createdAt, "updatedAt": secret.updatedAt}


_CONFIG_FIELDS = {
    "repo-blueprint": ("id", "type", "name", "title", "prompt", "repoUrl", "repoId", "repoBranch", "agentType",
                       "priority", "maxRetries", "promptTemplateId", "paramsSchema", "environment", "enabled", "createdAt",
                       "createdBy", "updatedAt"),
    "standalone": ("id", "type", "name", "description", "agentRuntime", "model", "promptTemplate", "paramsSchema",
                   "maxTurns", "budgetUsd", "maxRetries", "maxConcurrent", "warmPoolSize", "environment", "enabled",
                   "createdAt",
                   "createdBy", "updatedAt"),
}


def config_json(config: TaskConfigModel) -> dict[str, Any]:
    """A blueprint or a standalone task, with the fields of its type (absent ones as null)."""
    attributes = _attributes(config)
    return {name: attributes.get(name) for name in _CONFIG_FIELDS[config.type]}


def trigger_json(trigger: TriggerModel) -> dict[str, Any]:
    """A webhook's secret is write-only: shown as `hasSecret`."""
    body = {k: v for k, v in _attributes(trigger).items() if k not in ("duePartition", "ticketSource")}
    config = dict(body["config"] or {})
    if "secret" in config:
        config.pop("secret")
        config["hasSecret"] = True
    body["config"] = config
    return body


# A run's fields (SPEC §2 "Run"), by their name in the API -> in the executions table.
_RUN_FIELDS = {name: name for name in (
    "id", "type", "taskConfigId", "state", "params", "triggerParams", "trigger", "prompt", "costUsd",
    "inputTokens", "outputTokens", "modelUsed", "retryCount", "maxRetries", "retryable", "attempt",
    "errorMessage", "errorKind", "createdAt", "createdBy", "updatedAt", "startedAt", "launchedAt", "warmPod",
    "lastHeartbeatAt")}
_RUN_FIELDS.update(output="resultSummary", finishedAt="completedAt")


def workflow_run_json(run: ExecutionModel) -> dict[str, Any]:
    attributes = _attributes(run)
    return {name: attributes.get(stored) for name, stored in _RUN_FIELDS.items()}


def log_page(request: Request, owner_id: str) -> dict[str, Any]:
    """`GET .../logs?after=<seq>&limit=`: the log lines of a task or a run after a sequence number,
    oldest first; `?order=desc&before=<seq>&limit=`: newest first, before a sequence number (a
    long log opens at its end). The owner is known to exist."""
    limit, _ = paging(request)
    order = query(request, "order") or "asc"
    if order not in ("asc", "desc"):
        raise ValidationFailed("invalid order", [FieldProblem("order", "must be asc or desc")])
    bound = "before" if order == "desc" else "after"
    raw = query(request, bound)
    seq = natural(raw) if raw is not None else None
    if raw is not None and seq is None:
        raise ValidationFailed(f"invalid {bound}", [FieldProblem(bound, "must be a sequence number")])
    if order == "desc":
        lines = logs.newest_first(owner_id, seq, limit)
    else:
        lines = logs.after(owner_id, seq or 0, limit)
    cursor = str(lines[-1].seq) if len(lines) == limit else None
    return {"items": [log_json(line) for line in lines], "nextCursor": cursor}
