"""The tables of `chalicelib.store.tables.table_definitions()`, the one source of keys, indexes and
streams, renamed for a stage."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pynamodb.attributes import TTLAttribute

from chalicelib.settings import settings
from chalicelib.store.models import ALL_MODELS
from chalicelib.store.tables import table_definitions


@dataclass(frozen=True)
class TableSpec:
    short_name: str  # "executions", "execution-events", ...
    table_name: str
    attributes: list[dict[str, str]]
    key_schema: list[dict[str, str]]
    global_indexes: list[dict[str, Any]]
    stream_view_type: str | None
    ttl_attribute: str | None

    @property
    def construct_id(self) -> str:
        return "".join(part.capitalize() for part in self.short_name.split("-"))


def _ttl_attributes() -> dict[str, str]:
    found = {}
    for model in ALL_MODELS:
        for name, attribute in model.get_attributes().items():
            if isinstance(attribute, TTLAttribute):
                found[model.Meta.table_name] = attribute.attr_name or name
    return found


def _cfn_keys(keys: list[dict[str, str]]) -> list[dict[str, str]]:
    # CloudFormation wants the HASH key first.
    ordered = sorted(keys, key=lambda k: k["KeyType"] != "HASH")
    return [{"attribute_name": k["AttributeName"], "key_type": k["KeyType"]} for k in ordered]


def table_specs(prefix: str) -> list[TableSpec]:
    ttl = _ttl_attributes()
    specs = []
    for definition in table_definitions():
        name: str = definition["table_name"]
        short = name.removeprefix(settings.table_prefix)
        if local_indexes := definition.get("local_secondary_indexes"):
            raise ValueError(f"{name}: local secondary indexes are not supported here: {local_indexes}")
        specs.append(TableSpec(
            short_name=short,
            table_name=prefix + short,
            attributes=[{"attribute_name": a["AttributeName"], "attribute_type": a["AttributeType"]}
                        for a in definition["attribute_definitions"]],
            key_schema=_cfn_keys(definition["key_schema"]),
            global_indexes=[{"index_name": g["index_name"], "key_schema": _cfn_keys(g["key_schema"]),
                             "projection": {"projection_type": g["projection"]["ProjectionType"],
                                            **({"non_key_attributes": g["projection"]["NonKeyAttributes"]}
                                               if "NonKeyAttributes" in g["projection"] else {})}}
                            for g in definition.get("global_secondary_indexes", [])],
            stream_view_type=definition.get("stream_view_type"),
            ttl_attribute=ttl.get(name),
        ))
    return specs
