"""Where the API is reached, read from the proxy events API Gateway delivers (issue 15, A1/A2):
the base path in front of the app's routes and the URL runners are told to report to."""
from __future__ import annotations

from typing import Any

import pytest
from chalice.app import Request

from chalicelib.api.public_url import base_path, request_api_url
from chalicelib.engine.api_url import api_url, serving
from chalicelib.settings import settings


def proxy_event(path: str, asked: str, domain: str | None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {"resourcePath": path, "httpMethod": "GET", "path": asked, "stage": "api",
                               "identity": {"sourceIp": "203.0.113.9"}}
    if domain:
        context["domainName"] = domain
    return {"resource": path, "path": path, "httpMethod": "GET", "headers": headers or {},
            "multiValueHeaders": None, "queryStringParameters": None, "multiValueQueryStringParameters": None,
            "pathParameters": None, "stageVariables": None, "requestContext": context, "body": None,
            "isBase64Encoded": False}


AWS_HEADERS = {"X-Forwarded-Proto": "https", "X-Forwarded-Port": "443"}


@pytest.mark.parametrize(("path", "asked", "domain", "base", "url"), [
    # The stage URL `make deploy` prints: the stage is the first segment.
    ("/", "/api/", "abc123.execute-api.eu-west-1.amazonaws.com", "/api",
     "https://abc123.execute-api.eu-west-1.amazonaws.com/api"),
    ("/", "/api", "abc123.execute-api.eu-west-1.amazonaws.com", "/api",
     "https://abc123.execute-api.eu-west-1.amazonaws.com/api"),
    ("/api/tasks", "/api/api/tasks", "abc123.execute-api.eu-west-1.amazonaws.com", "/api",
     "https://abc123.execute-api.eu-west-1.amazonaws.com/api"),
    # A custom domain mapped at its root: the stage stripped.
    ("/tasks", "/tasks", "optio.example.com", "", "https://optio.example.com"),
    # ... or under a base path of its own.
    ("/api/health", "/optio/api/health", "tools.example.com", "/optio", "https://tools.example.com/optio"),
])
def test_base_path_and_url_from_api_gateway(path: str, asked: str, domain: str, base: str, url: str) -> None:
    request = Request(proxy_event(path, asked, domain, AWS_HEADERS))
    assert base_path(request) == base
    assert request_api_url(request) == url


def test_chalice_local_has_no_base_path_and_leaves_the_url_to_the_settings() -> None:
    event = proxy_event("/tasks", "/tasks", None)
    del event["path"]  # chalice local's events have no top-level path
    request = Request(event)
    assert base_path(request) == ""
    assert request_api_url(request) is None
    with serving(request_api_url(request)):
        assert api_url() == settings.api_url


def test_a_request_sets_the_url_runners_get_while_it_is_served() -> None:
    request = Request(proxy_event("/api/hooks/x", "/api/api/hooks/x", "abc.execute-api.us-east-1.amazonaws.com",
                                  {"X-Forwarded-Proto": "http", "X-Forwarded-Port": "8080"}))
    with serving(request_api_url(request)):
        assert api_url() == "http://abc.execute-api.us-east-1.amazonaws.com:8080/api"
    assert api_url() == settings.api_url
