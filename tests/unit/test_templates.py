from typing import Any

import pytest

from chalicelib.core.templates import render, truthy


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
    "{{}}", "{{ 1abc }}", "{single}", "{{a b}}",
])
def test_other_brace_forms_are_not_placeholders(text: str) -> None:
    assert render(text, {"flag": "x", "a": "A", "b": "B", "1abc": "no"}) == text


def test_triple_braces_keep_the_outer_pair() -> None:
    assert render("{{{a}}}", {"a": "A"}) == "{A}"


@pytest.mark.parametrize("template,params,expected", [
    ("{{#if a}}yes{{/if}}", {"a": True}, "yes"),
    ("{{#if a}}yes{{/if}}", {"a": False}, ""),
    ("{{#if a}}yes{{/if}}", {}, ""),
    ("{{#if a}}yes{{else}}no{{/if}}", {"a": "x"}, "yes"),
    ("{{#if a}}yes{{else}}no{{/if}}", {"a": ""}, "no"),
    ("{{#if a}}yes{{else}}no{{/if}}", {}, "no"),
    ("{{ #if  a }}yes{{ else }}no{{ /if }}", {"a": 1}, "yes"),
    ("[{{#if a}}A={{a}}{{else}}none{{/if}}]", {"a": "v"}, "[A=v]"),
    ("{{#if a}}{{#if b}}ab{{else}}a{{/if}}{{else}}{{#if b}}b{{else}}-{{/if}}{{/if}}", {"a": 1, "b": 1}, "ab"),
    ("{{#if a}}{{#if b}}ab{{else}}a{{/if}}{{else}}{{#if b}}b{{else}}-{{/if}}{{/if}}", {"a": 1}, "a"),
    ("{{#if a}}{{#if b}}ab{{else}}a{{/if}}{{else}}{{#if b}}b{{else}}-{{/if}}{{/if}}", {"b": 1}, "b"),
    ("{{#if a}}{{#if b}}ab{{else}}a{{/if}}{{else}}{{#if b}}b{{else}}-{{/if}}{{/if}}", {}, "-"),
    ("{{#if a}}1{{#if b}}2{{#if c}}3{{/if}}{{/if}}{{/if}}", {"a": 1, "b": 1, "c": 1}, "123"),
    ("{{#if a}}1{{#if b}}2{{#if c}}3{{/if}}{{/if}}{{/if}}", {"a": 1, "c": 1}, "1"),
    ("{{#if a}}x{{/if}} and {{#if a}}y{{/if}}", {"a": 1}, "x and y"),
    ("{{#if a}}x{{/if}}{{#if b}}y{{/if}}", {"b": 1}, "y"),
])
def test_if_blocks(template: str, params: dict[str, Any], expected: str) -> None:
    assert render(template, params) == expected


@pytest.mark.parametrize("value,expected", [
    (None, False), (False, False), (0, False), (0.0, False), ("", False), ([], False),
    (True, True), (1, True), (-1, True), ("0", True), ("false", True), ([0], True), ({}, True),
    ({"k": 1}, True),
])
def test_truthiness_is_handlebars(value: Any, expected: bool) -> None:
    assert truthy(value) is expected
    assert render("{{#if v}}T{{else}}F{{/if}}", {"v": value}) == ("T" if expected else "F")


@pytest.mark.parametrize("template", [
    "{{#if a}}never closed",
    "{{#if a}}never {{else}} closed",
    "stray {{/if}} end",
    "stray {{else}} else",
    "{{/if}}{{#if a}}",
    "{{#if}}empty{{/if}}",
    "{{#if a b}}two names{{/if}}",
])
def test_tags_that_do_not_pair_stay_as_written(template: str) -> None:
    assert render(template, {"a": 1}) == template


def test_an_unclosed_if_is_text_but_what_follows_it_still_renders() -> None:
    assert render("{{#if a}}X {{b}} {{#if b}}Y{{/if}}", {"b": "B"}) == "{{#if a}}X B Y"
    assert render("{{#if a}}{{#if b}}in{{/if}}", {"a": 1, "b": 1}) == "{{#if a}}in"


def test_extra_closers_and_elses_stay_as_written() -> None:
    assert render("{{#if a}}x{{/if}}{{/if}}", {"a": 1}) == "x{{/if}}"
    assert render("{{#if a}}x{{else}}y{{else}}z{{/if}}", {"a": 1}) == "x"
    assert render("{{#if a}}x{{else}}y{{else}}z{{/if}}", {}) == "y{{else}}z"


def test_unknown_placeholders_inside_blocks_stay_as_written() -> None:
    assert render("{{#if a}}{{missing}}{{/if}}", {"a": 1}) == "{{missing}}"


def test_values_inside_blocks_are_not_expanded_again() -> None:
    assert render("{{#if a}}{{a}}{{/if}}", {"a": "{{#if a}}x{{/if}}"}) == "{{#if a}}x{{/if}}"


def test_a_param_named_like_a_keyword_is_still_a_placeholder() -> None:
    assert render("{{if}} {{else_}}", {"if": "I", "else_": "E"}) == "I E"
