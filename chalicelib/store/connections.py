"""The only code that writes the connections table. A connection's name is its key: a create
conditioned on the name being free makes two racing creations one connection."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from pynamodb.exceptions import DeleteError, PutError, UpdateError

from chalicelib.core.timefmt import iso
from chalicelib.exceptions import Conflict, NotFound

from . import rows
from .models import ConnectionModel, RepoModel, TaskConfigModel, TemplateModel

_FAILED = "ConditionalCheckFailedException"


def get(name: str) -> ConnectionModel:
    return rows.get(ConnectionModel, name, "connection")


def find_many(names: Iterable[str]) -> dict[str, ConnectionModel]:
    """The named connections that exist, by name (one consistent batch read)."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    return {c.name: c for c in ConnectionModel.batch_get(wanted, consistent_read=True)}


def list_all() -> list[ConnectionModel]:
    """Every connection, by name: a handful per deployment."""
    return sorted(ConnectionModel.scan(), key=lambda c: c.name)


def users(name: str) -> list[str]:
    """The definitions whose environment lists the connection, as "<kind> <id> (<name>)": the
    templates, blueprints, standalone tasks and repositories. Tasks are not read (a whole table);
    a task listing a deleted connection fails when it launches, naming it."""
    found = [f"template {row.id} ({row.name})" for row in _listing(TemplateModel, name, [])]
    found += [f"{'blueprint' if row.type == 'repo-blueprint' else 'standalone task'} {row.id} ({row.name})"
              for row in _listing(TaskConfigModel, name, ["type"])]
    found += [f"repository {row.id} ({row.name})" for row in _listing(RepoModel, name, [])]
    return sorted(found)


M = TypeVar("M", TemplateModel, TaskConfigModel, RepoModel)


def _listing(model: type[M], name: str, more: list[str]) -> list[M]:
    rows = model.scan(filter_condition=model.environment.exists(),
                      attributes_to_get=["id", "name", "environment", *more])
    return [row for row in rows if name in ((row.environment or {}).get("connections") or [])]


def create(fields: Mapping[str, Any], now: datetime) -> ConnectionModel:
    connection = ConnectionModel(**fields)
    connection.createdAt = connection.updatedAt = iso(now)
    try:
        connection.save(condition=ConnectionModel.name.does_not_exist())
    except PutError as error:
        if error.cause_response_code == _FAILED:
            raise Conflict(f"a connection named {connection.name!r} already exists") from None
        raise
    return connection


def update(connection: ConnectionModel, changes: Mapping[str, Any], now: datetime) -> ConnectionModel:
    """`changes` as read from `connection`; a None removes the field. Conditioned on the row as
    read, so a concurrent change or delete is a 409, not overwritten."""
    fields = {**changes, "updatedAt": iso(now)}
    actions = [getattr(ConnectionModel, key).remove() if value is None else getattr(ConnectionModel, key).set(value)
               for key, value in fields.items()]
    try:
        connection.update(actions=actions, condition=ConnectionModel.updatedAt == connection.updatedAt)
    except UpdateError as error:
        if error.cause_response_code == _FAILED:
            get(connection.name)  # NotFound when it was deleted meanwhile
            raise Conflict(f"connection {connection.name} changed meanwhile; try again") from None
        raise
    return connection


def delete(connection: ConnectionModel) -> None:
    try:
        connection.delete(condition=ConnectionModel.name.exists())
    except DeleteError as error:
        if error.cause_response_code == _FAILED:
            raise NotFound(f"connection {connection.name} not found") from None
        raise
