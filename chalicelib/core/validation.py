"""Request validation with JSON Schema: every problem named by its field."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError


@dataclass(frozen=True)
class FieldProblem:
    field: str
    problem: str


def _field_of(error: ValidationError) -> str:
    path = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "required":
        missing = str(error.message).split("'")[1]
        return f"{path}.{missing}" if path else missing
    if error.validator == "additionalProperties":
        extra = str(error.message).split("'")[1]
        return f"{path}.{extra}" if path else extra
    return path or "body"


def _problem_of(error: ValidationError) -> str:
    if error.validator == "required":
        return "is required"
    if error.validator == "additionalProperties":
        return "is not a known field"
    if error.validator == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value)
        return f"must be one of: {allowed}"
    if error.validator == "type":
        return f"must be of type {error.validator_value}"
    if error.validator in ("minimum", "maximum"):
        return f"must be {'at least' if error.validator == 'minimum' else 'at most'} {error.validator_value}"
    if error.validator == "minLength" and error.validator_value == 1:
        return "must not be empty"
    return str(error.message)


def validate(schema: Mapping[str, Any], instance: object) -> list[FieldProblem]:
    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    return [FieldProblem(_field_of(e), _problem_of(e)) for e in errors]
