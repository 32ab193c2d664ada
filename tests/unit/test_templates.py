from typing import Any

import pytest

from chalicelib.core.templates import render


@pytest.mark.parametrize("template,params,expected", [
    ("Fix {{issue}} now", {"issue": "#12"}, "Fix #12 now"),
    ("{{a}} and {{a}}", {"a": "x"}, "x and x"),
    ("{{ spaced }}", {"spaced": "ok"}, "ok"),
    ("{{snake_case}} {{kebab-case}}", {"snake_case": 1, "kebab-case": 2}, "1 2"),
    ("no placeholders", {"a": "x"}, "no placeholders"),
    ("", {"a": "x"}, ""),
])
def test_placeholders_are_filled(template: str, params: dict[str, Any], expected: str) -> None:
    assert render(template, params) == expected


def test_unmatched_placeholders_stay_as_written() -> None:
    assert render("Hi {{name}}, see {{ missing }}", {"name": "Ann"}) == "Hi Ann, see {{ missing }}"
    assert render("{{name}}", {}) == "{{name}}"


def test_values_that_are_not_strings_are_written_as_json() -> None:
    params = {"n": 3, "on": True, "none": None, "list": ["a", 1], "obj": {"k": "v"}}
    assert render("{{n}} {{on}} {{none}} {{list}} {{obj}}", params) == '3 true null ["a", 1] {"k": "v"}'


def test_a_value_is_not_expanded_again() -> None:
    assert render("{{a}}", {"a": "{{b}}", "b": "no"}) == "{{b}}"


@pytest.mark.parametrize("text", [
    "{{#if flag}}yes{{/if}}", "{{}}", "{{ 1abc }}", "{single}", "{{a b}}",
])
def test_other_brace_forms_are_not_placeholders(text: str) -> None:
    assert render(text, {"flag": "x", "a": "A", "b": "B", "1abc": "no"}) == text


def test_triple_braces_keep_the_outer_pair() -> None:
    assert render("{{{a}}}", {"a": "A"}) == "{A}"
