"""Webhook triggers, pure: the signature check and the JSONPath param mapping."""
import hashlib
import hmac
from typing import Any

import pytest

from chalicelib.core.hooks import map_params, mapping_problems, signature_ok

BODY = b'{"action": "created", "data": {"issue": {"title": "Crash"}}}'
GOOD = hmac.new(b"secret", BODY, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("header", [GOOD, f"sha256={GOOD}", GOOD.upper(), f"SHA256={GOOD}", f" {GOOD} "])
def test_a_correct_signature_passes(header: str) -> None:
    assert signature_ok("secret", BODY, header)


@pytest.mark.parametrize("header", [
    None, "", "sha256=", GOOD[:-1], GOOD + "0", f"sha1={GOOD}",
    hmac.new(b"other", BODY, hashlib.sha256).hexdigest(),
    hmac.new(b"secret", BODY + b" ", hashlib.sha256).hexdigest(),
    "zz" * 32, "é" * 64,
])
def test_anything_else_fails(header: str | None) -> None:
    assert not signature_ok("secret", BODY, header)


def test_the_raw_bytes_are_signed_not_the_parsed_json() -> None:
    spaced = b'{"action":"created","data":{"issue":{"title":"Crash"}}}'
    assert not signature_ok("secret", spaced, GOOD)


@pytest.mark.parametrize("expression", ["$.a", "$.a.b[0]", "$..title", "$.tags[*]", "$['with space']", "a.b"])
def test_valid_jsonpath_expressions_pass(expression: str) -> None:
    assert mapping_problems({"p": expression}) == []


@pytest.mark.parametrize("expression", ["$[[", "$.a[", "foo bar ]", "$.a.(", "]"])
def test_invalid_jsonpath_expressions_are_named(expression: str) -> None:
    assert [p.field for p in mapping_problems({"ok": "$.a", "bad": expression})] == ["config.paramMapping.bad"]


PAYLOAD: dict[str, Any] = {
    "repository": {"name": "web", "owner": {"login": "acme"}},
    "labels": [{"name": "bug"}, {"name": "p1"}],
    "count": 0, "flag": False, "none": None,
}


def test_mapped_values_are_taken_from_the_body() -> None:
    mapping = {"repo": "$.repository.name", "owner": "$.repository.owner.login", "labels": "$.labels[*].name",
               "first": "$.labels[0].name", "count": "$.count", "flag": "$.flag", "none": "$.none",
               "missing": "$.nothing.here", "whole": "$.repository.owner"}
    assert map_params(mapping, PAYLOAD) == {
        "repo": "web", "owner": "acme", "labels": ["bug", "p1"], "first": "bug", "count": 0, "flag": False,
        "none": None, "whole": {"login": "acme"},
    }


def test_without_a_mapping_the_whole_body_is_the_params() -> None:
    assert map_params(None, PAYLOAD) == PAYLOAD
    assert map_params({}, PAYLOAD) == PAYLOAD
    assert map_params(None, [1, 2]) == {"payload": [1, 2]}
    assert map_params(None, "text") == {"payload": "text"}
