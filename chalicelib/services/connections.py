"""Connections behind the API: MCP servers agents may be given, checked against the secrets they
name; one that a definition lists is not deleted from under it."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.core.connections import secrets_of, shape_problems
from chalicelib.core.schemas import CONNECTION_CREATE, CONNECTION_PATCH
from chalicelib.engine.clock import utcnow
from chalicelib.exceptions import Conflict, FieldProblem, ValidationFailed
from chalicelib.store import connections
from chalicelib.store.models import ConnectionModel

from .secrets import check_named_secrets
from .validation import require_valid

_FIELDS = ("kind", "description", "command", "args", "env", "url", "headers")


def _checked(connection: Mapping[str, Any]) -> None:
    """The kind's fields, and every secret it names stored (400 naming `env.<VAR>` or `headers.<Name>`)."""
    problems = shape_problems(connection)
    if problems:
        raise ValidationFailed(f"invalid connection: {', '.join(p.field for p in problems)}", problems)
    check_named_secrets([(f"{field}.{key}", secret) for field in ("env", "headers")
                         for key, value in (connection.get(field) or {}).items()
                         for secret in secrets_of({field: {key: value}})])


def create_connection(body: Any) -> ConnectionModel:
    fields = require_valid(CONNECTION_CREATE, body)
    _checked(fields)
    return connections.create(fields, utcnow())


def update_connection(name: str, body: Any) -> ConnectionModel:
    connection = connections.get(name)
    changes = require_valid(CONNECTION_PATCH, body)
    merged = {field: getattr(connection, field) for field in _FIELDS} | changes
    _checked(merged)
    return connections.update(connection, changes, utcnow())


def delete_connection(name: str) -> None:
    connection = connections.get(name)
    users = connections.users(name)
    if users:
        raise Conflict(f"connection {name} is listed by {', '.join(users)}; remove it there first", usedBy=users)
    connections.delete(connection)


def check_connections(names: list[str], field: str) -> None:
    """The connections a definition gives its agents must exist: 400 naming `<field>.<i>` otherwise."""
    found = connections.find_many(names)
    problems = [FieldProblem(f"{field}.{index}", f"no connection {name}: create it with POST /api/connections first")
                for index, name in enumerate(names) if name not in found]
    if problems:
        raise ValidationFailed("unknown connection", problems)
