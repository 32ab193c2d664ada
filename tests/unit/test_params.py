"""Run params: `default`s filled in, then checked against the paramsSchema."""
import pytest

from chalicelib.core.params import check_params, constant_params_problems, with_defaults

_SCHEMA = {
    "type": "object",
    "required": ["pkg"],
    "properties": {
        "pkg": {"type": "string", "minLength": 1},
        "severity": {"type": "string", "enum": ["low", "high"], "default": "high"},
        "opts": {"type": "object", "default": {}, "properties": {"dry": {"type": "boolean", "default": True}}},
        "count": {"type": "integer", "minimum": 1},
    },
    "additionalProperties": False,
}


def test_defaults_are_filled_at_every_depth() -> None:
    given = {"pkg": "numpy"}
    assert with_defaults(_SCHEMA, given) == {"pkg": "numpy", "severity": "high", "opts": {"dry": True}}
    assert given == {"pkg": "numpy"}
    assert with_defaults(_SCHEMA, {"pkg": "x", "severity": "low", "opts": {"dry": False}})["opts"] == {"dry": False}
    assert with_defaults({"type": "object"}, {"a": 1}) == {"a": 1}
    assert with_defaults(_SCHEMA, "not an object") == "not an object"


def test_defaults_are_copies() -> None:
    first, _ = check_params(_SCHEMA, {"pkg": "a"})
    first["opts"]["dry"] = "changed"
    second, _ = check_params(_SCHEMA, {"pkg": "b"})
    assert second["opts"] == {"dry": True}


def test_valid_params_pass_with_defaults() -> None:
    assert check_params(_SCHEMA, {"pkg": "numpy"}) == (
        {"pkg": "numpy", "severity": "high", "opts": {"dry": True}}, [])


def test_no_schema_takes_any_object() -> None:
    assert check_params(None, {"a": 1}) == ({"a": 1}, [])
    assert check_params(None, None) == ({}, [])
    assert check_params({}, {"a": 1}) == ({"a": 1}, [])


def test_every_failing_path_is_named() -> None:
    _, problems = check_params(_SCHEMA, {"severity": "mid", "count": 0, "opts": {"dry": "yes"}, "x": 1})
    assert sorted(p.field for p in problems) == ["params.count", "params.opts.dry", "params.pkg",
                                                "params.severity", "params.x"]


def test_params_that_are_not_an_object_are_refused() -> None:
    _, problems = check_params(_SCHEMA, ["pkg"])
    assert [p.field for p in problems] == ["params"]
    _, problems = check_params({"type": "object", "minProperties": 1}, {})
    assert [p.field for p in problems] == ["params"]


@pytest.mark.parametrize("schema,constants,fields", [
    (_SCHEMA, {"pkg": "numpy"}, []),
    (_SCHEMA, {}, ["config.paramMapping.pkg"]),
    (_SCHEMA, {"pkg": "a", "opts": {"dry": "no"}}, ["config.paramMapping.opts.dry"]),
    (_SCHEMA, {"pkg": "a", "extra": 1}, ["config.paramMapping.extra"]),
    ({"type": "object", "minProperties": 1}, {}, ["config.paramMapping"]),
    (None, {"anything": [1]}, []),
])
def test_a_schedules_constant_params_are_named_under_its_param_mapping(
        schema: dict[str, object] | None, constants: dict[str, object], fields: list[str]) -> None:
    assert sorted(p.field for p in constant_params_problems(schema, constants)) == fields
