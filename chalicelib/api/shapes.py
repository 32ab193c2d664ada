"""Rows as the API shows them."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from pynamodb.models import Model

from chalicelib.core.subtasks import SubtaskStatus
from chalicelib.store.models import (
    ApiKeyModel,
    CommentModel,
    RepoModel,
    SecretModel,
    TaskEventModel,
    TaskLogModel,
    TaskModel,
    TemplateModel,
)

_INTERNAL = frozenset(
    {"queuePartition", "queueSort", "activePartition", "slotRepoId", "retryable", "freeRetry"}
)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _attributes(row: Model) -> dict[str, Any]:
    return {name: _plain(getattr(row, name)) for name in row.get_attributes()}


def task_json(task: TaskModel) -> dict[str, Any]:
    body = {k: v for k, v in _attributes(task).items() if k not in _INTERNAL}
    for name in ("prUrl", "prNumber", "prState", "prChecksStatus", "prReviewStatus", "costUsd",
                 "inputTokens", "outputTokens", "modelUsed", "resultSummary", "errorMessage",
                 "startedAt", "completedAt", "parentId", "metadata"):
        body.setdefault(name, None)
    return body


def repo_json(repo: RepoModel) -> dict[str, Any]:
    return _attributes(repo)


def event_json(event: TaskEventModel) -> dict[str, Any]:
    return {"from": event.fromState, "to": event.toState, "trigger": event.trigger,
            "message": event.message, "at": event.at}


def log_json(line: TaskLogModel) -> dict[str, Any]:
    return {"seq": int(line.seq), "attempt": int(line.attempt), "type": line.logType,
            "content": line.content, "at": line.at}


def api_key_json(key: ApiKeyModel) -> dict[str, Any]:
    return {"id": key.id, "name": key.name, "tokenPrefix": key.tokenPrefix, "createdAt": key.createdAt}


def comment_json(comment: CommentModel) -> dict[str, Any]:
    return {"id": comment.id, "taskId": comment.taskId, "author": comment.author, "body": comment.body,
            "createdAt": comment.createdAt, "updatedAt": comment.updatedAt}


def template_json(template: TemplateModel) -> dict[str, Any]:
    return _attributes(template)


def status_json(status: SubtaskStatus) -> dict[str, Any]:
    """Pipeline progress: how the blocking subtasks stand."""
    return {"allComplete": status.all_complete, "total": status.total, "pending": status.pending,
            "running": status.running, "completed": status.completed, "failed": status.failed}


def secret_json(secret: SecretModel) -> dict[str, Any]:
    return {"name": secret.name, "createdAt": secret.createdAt, "updatedAt": secret.updatedAt}
