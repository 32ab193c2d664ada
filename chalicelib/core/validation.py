"""Request validation with JSON Schema: every problem named by its field."""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError


@dataclass(frozen=True)
class FieldProblem:
    field: str
    problem: str


# What DynamoDB can store: lists and maps nested at most 32 deep, numbers of at most 38 digits
# whose magnitude is 0 or from 1e-130 to below 1e126, strings of valid Unicode.
MAX_DEPTH = 32
MAX_INT = 10**38
NUMBER_RANGE = (1e-130, 1e126)
# A body full of bad values is named by its first few problems, not by an answer as big as it.
MAX_PROBLEMS = 20


class BadJson(ValueError):
    """A body that is not JSON, or JSON that cannot be taken as it is, with the fields to blame."""

    def __init__(self, message: str, problems: list[FieldProblem]) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems


@dataclass(frozen=True)
class _Constant:
    """NaN, Infinity or -Infinity, which Python's parser accepts and JSON does not: kept as a
    marker until the walk over the value can say where it stood."""

    name: str


def parse_json(raw: bytes | str, *, storable: bool = True) -> Any:
    """`raw` as JSON, refused (BadJson) when it is not JSON, holds NaN or Infinity, nests deeper
    than MAX_DEPTH, or (with `storable`) holds a number or string DynamoDB cannot store."""
    try:
        value = json.loads(raw, parse_constant=_Constant)
    except RecursionError:
        raise BadJson("the body is nested too deeply",
                      [FieldProblem("body", f"nests lists and objects deeper than {MAX_DEPTH} levels")]) from None
    except ValueError:
        raise BadJson("the body is not valid JSON", [FieldProblem("body", "is not valid JSON")]) from None
    problems = json_problems(value, storable=storable)
    if problems:
        raise BadJson(f"invalid value: {', '.join(p.field for p in problems)}", problems)
    return value


def json_problems(value: Any, *, storable: bool = True) -> list[FieldProblem]:
    """Walks `value` without recursion (a deep value must not exhaust the stack)."""
    problems: list[FieldProblem] = []
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack and len(problems) < MAX_PROBLEMS:
        item, path, depth = stack.pop()
        field = path or "body"
        if isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                problems.append(FieldProblem(field, f"nests lists and objects deeper than {MAX_DEPTH} levels"))
                continue
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in reversed(list(pairs)):
                name = f"{path}.{key}" if path else str(key)
                if storable and isinstance(key, str) and not _valid_unicode(key):
                    problems.append(FieldProblem(name, "the name is not valid Unicode"))
                stack.append((child, name, depth + 1))
            continue
        problem = _value_problem(item) if storable else _constant_problem(item)
        if problem:
            problems.append(FieldProblem(field, problem))
    return problems[:MAX_PROBLEMS]


def _constant_problem(item: Any) -> str | None:
    if isinstance(item, _Constant):
        return f"must be a number, not {item.name}"
    return None


def _value_problem(item: Any) -> str | None:
    if isinstance(item, bool):
        return None
    if isinstance(item, int):
        return None if abs(item) < MAX_INT else "has more than 38 digits, more than can be stored"
    if isinstance(item, float):
        if not math.isfinite(item):
            return "must be a finite number"
        low, high = NUMBER_RANGE
        if item and not low <= abs(item) < high:
            return f"must be 0 or between {low:g} and {high:g} in size to be stored"
        return None
    if isinstance(item, str):
        return None if _valid_unicode(item) else "is not valid Unicode (an unpaired surrogate)"
    return _constant_problem(item)


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for "must be an object, not an array"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _valid_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
    # jsonschema (with referencing and its specifications) is a fifth of a cold start: loaded on
    # the first request that carries a body, not when the app is imported.
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    return [FieldProblem(_field_of(e), _problem_of(e)) for e in errors]
