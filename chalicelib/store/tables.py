"""Create the tables from the models: local mode and tests call this, the infrastructure reads
`table_definitions()` so that AWS gets exactly the same keys, indexes and streams."""
from __future__ import annotations

from typing import Any

from pynamodb.models import Model

from .models import ALL_MODELS


def table_definitions() -> list[dict[str, Any]]:
    definitions = []
    for model in ALL_MODELS:
        schema = dict(model._get_schema())
        schema["table_name"] = model.Meta.table_name
        schema["stream_view_type"] = getattr(model.Meta, "stream_view_type", None)
        definitions.append(schema)
    return definitions


def create_all(models: tuple[type[Model], ...] = ALL_MODELS) -> None:
    for model in models:
        if not model.exists():
            model.create_table(wait=True)


def stream_arn_of_tasks() -> str:
    from .models import TaskModel

    description = TaskModel._get_connection().describe_table()
    return str(description["LatestStreamArn"])
