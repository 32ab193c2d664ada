"""Hostile and malformed requests over HTTP against local mode: every one answers a 4xx in our
error shape (`{"error", "details"?}`) naming what is wrong, never a 500 and never a write."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.api import Api
from tests.support.localmode import LocalMode

pytestmark = pytest.mark.xdist_group("stack")

DEEP = b"[" * 100_000 + b"]" * 100_000
JSON = {"Content-Type": "application/json"}


def our_error(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert isinstance(body.get("error"), str) and body["error"], body
    assert set(body) <= {"error", "details"}, body
    return body


def fields(response: requests.Response) -> list[str]:
    return [d["field"] for d in our_error(response, 400).get("details", [])]


@pytest.mark.parametrize("path,authenticated", [
    ("/api/tasks", True), ("/api/repos", True), ("/api/auth/session", False),
    ("/api/internal/tasks/x/events", False),
])
def test_deeply_nested_json_is_a_400_on_every_json_route(stack: LocalMode, path: str, authenticated: bool) -> None:
    headers = {**JSON, "Authorization": f"Bearer {stack.token}"} if authenticated else JSON
    for body in (DEEP, b'{"a":' * 40 + b"1" + b"}" * 40):
        response = requests.post(stack.url + path, data=body, headers=headers, timeout=30)
        if response.status_code == 401:  # the runner's channel checks its token first
            continue
        assert "nests lists and objects deeper than 32 levels" in response.text, response.text
        our_error(response, 400)


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_nan_and_infinity_are_refused_naming_the_field(api: Api, repo: dict[str, Any], literal: bytes) -> None:
    body = b'{"title": "t", "prompt": "p", "repoId": "%s", "metadata": {"score": %s}}' % (
        str(repo["id"]).encode(), literal)
    assert fields(api.request("POST", "/api/tasks", data=body, headers=JSON)) == ["metadata.score"]


@pytest.mark.parametrize("number,field", [
    (b"5e-324", "budgetUsd"), (b"1e-131", "budgetUsd"), (b"0.001", "budgetUsd"), (b"1e300", "budgetUsd"),
    (b"1" + b"0" * 40, "maxTurns"),
])
def test_numbers_are_checked_against_what_is_stored_and_meant(api: Api, number: bytes, field: str) -> None:
    body = b'{"type": "standalone", "name": "n-%s", "promptTemplate": "p", "%s": %s}' % (
        uuid.uuid4().hex[:8].encode(), field.encode(), number)
    assert fields(api.request("POST", "/api/tasks", data=body, headers=JSON)) == [field]


def test_huge_numbers_anywhere_in_a_body_name_their_field(api: Api, repo: dict[str, Any]) -> None:
    body = b'{"title": "t", "prompt": "p", "repoId": "%s", "metadata": {"deep": [1, %s]}}' % (
        str(repo["id"]).encode(), b"9" * 39)
    assert fields(api.request("POST", "/api/tasks", data=body, headers=JSON)) == ["metadata.deep.1"]
    lone_surrogate = b'{"title": "\\ud800", "prompt": "p", "repoId": "%s"}' % str(repo["id"]).encode()
    assert fields(api.request("POST", "/api/tasks", data=lone_surrogate, headers=JSON)) == ["title"]


@pytest.mark.parametrize("url", [
    "ext::sh -c touch% /tmp/pwned", "fd::17", "https://github.com/acme/web app", "https://github.com/acme/../x",
    "https://github.com/acme/x?upload-pack=touch", "-oProxyCommand=touch:acme/x",
])
def test_repo_urls_that_are_not_plain_git_urls_are_refused(api: Api, url: str) -> None:
    assert fields(api.post("/api/repos", {"repoUrl": url})) == ["repoUrl"]
    assert url not in api.get("/api/repos?limit=200").text


def test_a_content_type_the_route_does_not_take_is_a_415_in_our_shape(api: Api) -> None:
    response = api.request("POST", "/api/tasks", data=b"title=t", headers={"Content-Type": "text/plain"})
    assert "text/plain" in our_error(response, 415)["error"]


def test_unknown_methods_and_routes_answer_in_our_shape(stack: LocalMode, api: Api) -> None:
    our_error(api.request("PUT", "/api/tasks"), 405)
    traced = api.request("TRACE", "/api/tasks")
    our_error(traced, 405)
    assert "GET" in traced.headers["Allow"]
    our_error(api.request("BREW", "/api/health"), 405)
    our_error(api.get("/api/no-such-route"), 404)


def test_malformed_http_is_answered_in_our_shape(stack: LocalMode) -> None:
    where = urlsplit(stack.url)
    for request in (b"POST /api/auth/session HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                    b"POST /api/auth/session HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                    b"GET /api/health extra HTTP/1.1\r\n\r\n"):
        with socket.create_connection((where.hostname, where.port), timeout=30) as sock:
            sock.sendall(request)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.split(b" ")[1] in (b"400", b"411"), answer
        assert b'"error"' in body, answer


def signed(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("body", [b"[1,2,3]", b"null", b"NaN", b'"text"', b"12"])
def test_hook_bodies_must_be_json_objects(api: Api, repo: dict[str, Any], body: bytes) -> None:
    blueprint = api.ok("POST", "/api/tasks", {"type": "repo-blueprint", "name": f"bp-{uuid.uuid4().hex[:8]}",
                                              "prompt": "[fake:noop] hook", "repoId": repo["id"]}, status=201)
    path = f"hostile-{uuid.uuid4().hex[:8]}"
    api.ok("POST", f"/api/tasks/{blueprint['id']}/triggers",
           {"type": "webhook", "config": {"path": path, "secret": "s3cret"}}, status=201)
    response = requests.post(f"{api.base_url}/api/hooks/{path}", data=body, timeout=30,
                             headers={**JSON, "X-Optio-Signature": signed("s3cret", body)})
    assert fields(response) == ["body"]
    assert api.ok("GET", f"/api/tasks/{blueprint['id']}/runs")["items"] == []


@pytest.mark.parametrize("query", ["limit=%C2%B2", "limit=" + "9" * 40, "after=%C2%B2", "after=" + "9" * 40,
                                   "after=-1"])
def test_numbers_in_the_query_are_checked_too(api: Api, repo: dict[str, Any], query: str) -> None:
    task = api.ok("POST", "/api/tasks", {"title": "q", "prompt": "[fake:noop]", "repoId": repo["id"]}, status=201)
    assert fields(api.get(f"/api/tasks/{task['id']}/logs?{query}")) == [query.split("=")[0]]


@pytest.mark.parametrize("key", [{"id": {"S": "x"}}, {"id": {"N": "not a number"}}, {"nope": {"S": "x"}}])
@pytest.mark.parametrize("path", ["/api/tasks", "/api/repos", "/api/jobs", "/api/templates"])
def test_a_cursor_the_api_did_not_return_is_never_a_500(api: Api, key: dict[str, Any], path: str) -> None:
    cursor = base64.urlsafe_b64encode(json.dumps(key).encode()).decode()
    response = api.get(f"{path}?cursor={cursor}")
    # A query refuses a start key that is not its index's (400); a scan starts after it (200).
    if response.status_code != 200:
        assert fields(response) == ["cursor"]
