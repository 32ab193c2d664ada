"""A run's params: checked against the config's `paramsSchema` (JSON Schema draft 2020-12) with
its `default`s filled in first. Pure: the caller turns problems into a 400."""
from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .validation import FieldProblem, validate


def with_defaults(schema: Mapping[str, Any], value: Any) -> Any:
    """`value` with every missing property that has a `default` in `schema` filled in, at any
    depth of nested object schemas. `value` itself is not changed."""
    if not isinstance(value, dict):
        return value
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return dict(value)
    filled = dict(value)
    for name, sub in properties.items():
        if not isinstance(sub, Mapping):
            continue
        if name not in filled and "default" in sub:
            filled[name] = copy.deepcopy(sub["default"])
        if name in filled:
            filled[name] = with_defaults(sub, filled[name])
    return filled


def check_params(schema: Mapping[str, Any] | None, params: Any) -> tuple[dict[str, Any], list[FieldProblem]]:
    """The params to run with, and the problems that refuse them; every field is named
    `params.<path>`."""
    given = {} if params is None else params
    if not isinstance(given, dict):
        return {}, [FieldProblem("params", "must be an object")]
    if not schema:
        return dict(given), []
    filled = with_defaults(schema, given)
    problems = [
        FieldProblem("params" if p.field == "body" else f"params.{p.field}", p.problem)
        for p in validate(schema, filled)
    ]
    return filled, problems


def constant_params_problems(schema: Mapping[str, Any] | None, constants: Mapping[str, Any]) -> list[FieldProblem]:
    """What refuses a schedule's constant params (`config.paramMapping`) against the config's
    schema once its defaults are filled: a schedule fires with nobody to answer a 400, so a
    required param still missing, or a constant of the wrong type, is refused when the trigger is
    made. Fields are named `config.paramMapping.<path>`."""
    _, problems = check_params(schema, dict(constants))
    return [FieldProblem("config.paramMapping" + p.field.removeprefix("params"), p.problem) for p in problems]
