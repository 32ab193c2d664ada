"""Create the tables from the models: local mode and tests call this, the infrastructure reads
`table_definitions()` so that AWS gets exactly the same keys, indexes and streams."""
from __future__ import annotations

import time
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
    """Missing tables are created; a table kept from an older version (local mode's `.optio/`)
    gets the indexes added since, so upgrading loses no data."""
    for model in models:
        if not model.exists():
            model.create_table(wait=True)
        else:
            add_missing_indexes(model)
            add_missing_stream(model)


def add_missing_stream(model: type[Model]) -> bool:
    """Turns on the model's stream on a live table made before it had one; True if it did."""
    view = getattr(model.Meta, "stream_view_type", None)
    if view is None:
        return False
    client = model._get_connection().connection.client
    described = client.describe_table(TableName=model.Meta.table_name)["Table"]
    if described.get("StreamSpecification", {}).get("StreamEnabled"):
        return False
    client.update_table(TableName=model.Meta.table_name,
                        StreamSpecification={"StreamEnabled": True, "StreamViewType": view})
    return True


def add_missing_indexes(model: type[Model]) -> list[str]:
    """Creates the model's global secondary indexes the live table lacks; returns their names."""
    client = model._get_connection().connection.client
    table = model.Meta.table_name
    present = {g["IndexName"] for g in client.describe_table(TableName=table)["Table"].get(
        "GlobalSecondaryIndexes", [])}
    added = []
    for index in model._get_schema().get("global_secondary_indexes", []):
        if index["index_name"] in present:
            continue
        client.update_table(
            TableName=table, AttributeDefinitions=index["attribute_definitions"],
            GlobalSecondaryIndexUpdates=[{"Create": {"IndexName": index["index_name"],
                                                     "KeySchema": index["key_schema"],
                                                     "Projection": index["projection"]}}])
        added.append(index["index_name"])
    if added:
        _wait_for_indexes(client, table)
    return added


def _wait_for_indexes(client: Any, table: str, timeout_s: float = 120.0) -> None:
    """New indexes backfill before they answer queries."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        described = client.describe_table(TableName=table)["Table"]
        if all(g.get("IndexStatus") == "ACTIVE" for g in described.get("GlobalSecondaryIndexes", [])):
            return
        time.sleep(0.2)
    raise TimeoutError(f"the new indexes of {table} were not active after {timeout_s:.0f} s")
