"""Validate a request body, or raise the 400 that names every failing field."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.core.validation import validate
from chalicelib.exceptions import ValidationFailed


def require_valid(schema: Mapping[str, Any], body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValidationFailed("the body must be a JSON object")
    problems = validate(schema, body)
    if problems:
        fields = ", ".join(p.field for p in problems)
        raise ValidationFailed(f"invalid request: {fields}", problems)
    return body
