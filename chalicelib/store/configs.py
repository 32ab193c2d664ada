"""The only code that writes the task-configs table (blueprints and standalone tasks); their runs
are executions (`store.executions.of_config`)."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.core.timefmt import iso
from chalicelib.exceptions import NotFound

from . import rows
from .acting import actor
from .models import TaskConfigModel
from .pages import Page, decode_cursor, page_of


def find(config_id: str) -> TaskConfigModel | None:
    return rows.find(TaskConfigModel, config_id)


def get(config_id: str) -> TaskConfigModel:
    config = find(config_id)
    if config is None:
        raise NotFound(f"task {config_id} not found")
    return config


def create(fields: Mapping[str, Any], now: datetime) -> TaskConfigModel:
    config = TaskConfigModel(**fields)
    config.createdAt = config.updatedAt = iso(now)
    config.createdBy = actor()
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
    return page_of(TaskConfigModel.type_index.query(
        config_type, scan_index_forward=False, limit=limit, last_evaluated_key=decode_cursor(cursor)))
