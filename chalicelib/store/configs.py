"""The only code that writes the task-configs table (blueprints), and the reads of their runs."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib.core.timefmt import iso
from chalicelib.exceptions import NotFound

from .models import ExecutionModel, TaskConfigModel
from .pages import Page, decode_cursor, encode_cursor


def find(config_id: str) -> TaskConfigModel | None:
    try:
        return TaskConfigModel.get(config_id, consistent_read=True)
    except DoesNotExist:
        return None


def get(config_id: str) -> TaskConfigModel:
    config = find(config_id)
    if config is None:
        raise NotFound(f"task {config_id} not found")
    return config


def create(fields: Mapping[str, Any], now: datetime) -> TaskConfigModel:
    config = TaskConfigModel(**fields)
    config.createdAt = config.updatedAt = iso(now)
    config.save(condition=TaskConfigModel.id.does_not_exist())
    return config


def update(config: TaskConfigModel, changes: Mapping[str, Any], now: datetime) -> TaskConfigModel:
    """A None removes the field; the condition keeps a concurrently deleted config deleted."""
    fields = {**changes, "updatedAt": iso(now)}
    actions = [
        getattr(TaskConfigModel, name).remove() if value is None else getattr(TaskConfigModel, name).set(value)
        for name, value in fields.items()
    ]
    try:
        config.update(actions=actions, condition=TaskConfigModel.id.exists())
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise NotFound(f"task {config.id} not found") from None
        raise
    return config


def delete(config: TaskConfigModel) -> None:
    config.delete()


def list_configs(config_type: str, limit: int, cursor: str | None) -> Page[TaskConfigModel]:
    query = TaskConfigModel.type_index.query(
        config_type, scan_index_forward=False, limit=limit, last_evaluated_key=decode_cursor(cursor)
    )
    items = list(query)
    last_key = query.last_evaluated_key
    return Page(items=items, next_cursor=encode_cursor(last_key) if last_key else None)


def runs(config_id: str, limit: int, cursor: str | None) -> Page[ExecutionModel]:
    """The repo tasks a blueprint created, newest first."""
    query = ExecutionModel.config_run_index.query(
        config_id, scan_index_forward=False, limit=limit, last_evaluated_key=decode_cursor(cursor)
    )
    items = list(query)
    last_key = query.last_evaluated_key
    return Page(items=items, next_cursor=encode_cursor(last_key) if last_key else None)
