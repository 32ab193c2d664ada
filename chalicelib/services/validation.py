"""Validate a request body, or raise the 400 that names every failing field."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.core.network import allow_problems
from chalicelib.core.validation import BadJson, FieldProblem, json_type, parse_json, validate
from chalicelib.exceptions import ValidationFailed


def parse_body(raw: bytes | str, *, storable: bool = True) -> Any:
    """A request body as JSON, or the 400 that names what is wrong with it (`core.parse_json`)."""
    try:
        return parse_json(raw, storable=storable)
    except BadJson as bad:
        raise ValidationFailed(bad.message, bad.problems) from None


def not_an_object(body: Any) -> ValidationFailed:
    return ValidationFailed("the body must be a JSON object",
                            [FieldProblem("body", f"must be an object, not {json_type(body)}")])


def require_valid(schema: Mapping[str, Any], body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise not_an_object(body)
    problems = validate(schema, body)
    if problems:
        fields = ", ".join(p.field for p in problems)
        raise ValidationFailed(f"invalid request: {fields}", problems)
    return body


def check_network(environment: Mapping[str, Any] | None) -> None:
    """An `environment.network` allow list names hosts and CIDRs only (the schema checks its shape)."""
    network = (environment or {}).get("network")
    if isinstance(network, dict):
        problems = allow_problems(list(network["allow"]), "environment.network.allow")
        if problems:
            raise ValidationFailed("invalid environment.network", problems)
