"""Webhook triggers, pure: the signature check and the mapping of a body to params."""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .validation import FieldProblem

if TYPE_CHECKING:
    from jsonpath_ng.jsonpath import JSONPath

SIGNATURE_PREFIX = "sha256="


def parse(expression: str) -> JSONPath:
    from jsonpath_ng.parser import parse as _parse  # at first use: its lexer and parser tables load slowly

    return _parse(expression)


def signature_ok(secret: str, raw_body: bytes, header: str | None) -> bool:
    """`header` is the hex HMAC-SHA256 of the raw body under `secret` (`sha256=` prefix allowed);
    compared in constant time."""
    if not header:
        return False
    given = header.strip()
    if given.lower().startswith(SIGNATURE_PREFIX):
        given = given[len(SIGNATURE_PREFIX):]
    expected = hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), given.lower().encode("utf-8", "replace"))


def mapping_problems(mapping: Mapping[str, str]) -> list[FieldProblem]:
    problems = []
    for name, expression in mapping.items():
        try:
            parse(expression)
        except Exception:  # jsonpath-ng raises lexer, parser and plain errors alike
            problems.append(FieldProblem(f"config.paramMapping.{name}", "is not a valid JSONPath expression"))
    return problems


def map_params(mapping: Mapping[str, str] | None, body: Any) -> dict[str, Any]:
    """Params from a webhook body: each mapped name gets the value its JSONPath finds (the first
    match; several matches give the list; none leaves the name out). No mapping: the whole body,
    when it is an object, else `{"payload": body}`."""
    if not mapping:
        return dict(body) if isinstance(body, dict) else {"payload": body}
    params: dict[str, Any] = {}
    for name, expression in mapping.items():
        values = [match.value for match in parse(expression).find(body)]
        if len(values) == 1:
            params[name] = values[0]
        elif values:
            params[name] = values
    return params
