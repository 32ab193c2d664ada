"""Connections: the MCP servers an agent may be given (`/api/connections`, a definition's
`environment.connections`). A connection names the secrets it needs and never holds a value: a
`stdio` server's `env` maps each of its variables to a secret's name, an `http` server's
`headers` are templates in which `${NAME}` stands for a secret's value. The runner resolves the
names from the secrets its agent gets and writes each agent CLI's own MCP configuration."""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from .validation import FieldProblem

STDIO, HTTP = "stdio", "http"
# The fields only one kind has: the other kind must not set them.
KIND_FIELDS = {STDIO: ("command", "args", "env"), HTTP: ("url", "headers")}
REQUIRED_OF_KIND = {STDIO: "command", HTTP: "url"}
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]{0,127})\}")
# Any "${" left once the references are taken out is a malformed one.
_LEFTOVER = "${"


def header_references(template: str) -> list[str]:
    """The secret names `${NAME}` in a header's template, in order."""
    return _REFERENCE.findall(template)


def secrets_of(connection: Mapping[str, Any]) -> list[str]:
    """The secrets a connection needs, sorted: its env's values and its headers' references."""
    names = set((connection.get("env") or {}).values())
    for template in (connection.get("headers") or {}).values():
        names.update(header_references(template))
    return sorted(names)


def shape_problems(connection: Mapping[str, Any]) -> list[FieldProblem]:
    """What the schema cannot say: the fields of the connection's kind, and well-formed header
    templates."""
    kind = str(connection.get("kind"))
    problems = []
    required = REQUIRED_OF_KIND[kind]
    if connection.get(required) is None:
        problems.append(FieldProblem(required, f"required for a {kind} connection"))
    other = HTTP if kind == STDIO else STDIO
    problems += [FieldProblem(field, f"only a {other} connection has {field}")
                 for field in KIND_FIELDS[other] if connection.get(field) is not None]
    for header, template in (connection.get("headers") or {}).items():
        if _LEFTOVER in _REFERENCE.sub("", template):
            problems.append(FieldProblem(f"headers.{header}",
                                         "a secret is named as ${NAME} (letters, digits, underscores)"))
    return problems


def runner_connections(connections: Iterable[Mapping[str, Any]]) -> str:
    """OPTIO_CONNECTIONS, what the runner reads: each connection's definition, secrets by name."""
    fields = ("name", "kind", "command", "args", "env", "url", "headers")
    return json.dumps([{field: c[field] for field in fields if c.get(field) is not None} for c in connections],
                      separators=(",", ":"), sort_keys=True)


def listed(environment: Mapping[str, Any] | None) -> list[str]:
    """The connections a definition's environment lists."""
    return list((environment or {}).get("connections") or [])
