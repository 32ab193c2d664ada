"""The AWS services between the functions, as loopback stand-ins that speak their wire formats:
API Gateway (a REST API's stage: HTTP requests in, Lambda proxy events out), the Lambda Invoke
API (for the functions' own `boto3` calls), the DynamoDB stream event source mapping (batches of
stream records, partial-batch failures) and EventBridge schedules (scheduled events)."""
from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

from tests.fakes.lambda_api import FakeLambda
from tests.fakes.loopback import Loopback

from .template import ACCOUNT, REGION, REST_API_ID

MAX_PAYLOAD = 10 * 1024 * 1024  # API Gateway's request limit
INTEGRATION_TIMEOUT_S = 29  # API Gateway's integration timeout for a REST API


class FunctionError(Exception):
    """The function raised: Lambda answered with X-Amz-Function-Error."""


class FunctionEndpoint:
    """One function's execution environment, reached over the Invoke API."""

    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.url = f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
        self.invocations = 0  # finished ones

    def invoke(self, event: Any, timeout_s: float = 300) -> Any:
        try:
            return self._invoke(event, timeout_s)
        finally:
            self.invocations += 1

    def _invoke(self, event: Any, timeout_s: float) -> Any:
        response = requests.post(self.url, data=json.dumps(event), timeout=timeout_s)
        result = response.json()
        if response.headers.get("X-Amz-Function-Error"):
            raise FunctionError(f"{self.name}: {result.get('errorType')}: {result.get('errorMessage')}")
        return result


# --- Lambda: the Invoke API the functions call by name -----------------------------------------

def lambda_service(functions: dict[str, FunctionEndpoint]) -> FakeLambda:
    """`InvocationType=Event` is accepted at once and run afterwards, as Lambda does."""
    return FakeLambda(handlers={name: fn.invoke for name, fn in functions.items()}).start()


# --- API Gateway: a REST API stage in front of the API function ---------------------------------

class Route:
    def __init__(self, resource: str, methods: set[str]) -> None:
        self.resource = resource
        self.methods = methods
        names: list[str] = []

        def group(match: re.Match[str]) -> str:
            names.append(match[1].rstrip("+"))
            return "(.+)" if match[1].endswith("+") else "([^/]+)"

        self.pattern = re.compile("^" + re.sub(r"\\\{([^}]+)\\\}", group, re.escape(resource)) + "$")
        self.names = names


class ApiGateway:
    """The stage `https://{id}.execute-api.{region}.amazonaws.com/{stage}` on loopback, or with
    `base_path` a custom domain whose base path mapping puts the stage there ("": at the root).
    Requests outside it or to a resource the API does not define get API Gateway's 403 "Missing
    Authentication Token"; the rest become REST API (v1) proxy events for the API function."""

    def __init__(self, definition: dict[str, Any], stage: str, base_path: str | None = None,
                 responses: dict[str, tuple[str | None, str]] | None = None) -> None:
        self.stage = stage
        # The API's gateway responses (AWS::ApiGateway::GatewayResponse): type -> (status, template).
        self.responses = responses or {}
        self.prefix = f"/{stage}" if base_path is None else base_path
        # Its integration: the API function, once it runs (the stage URL is in the functions'
        # environment, so the front listens first).
        self.function: FunctionEndpoint | None = None
        self.binary_types = set(definition.get("x-amazon-apigateway-binary-media-types", []))
        self.routes = [Route(path, {m.upper() for m in methods}) for path, methods in definition["paths"].items()]
        # A literal resource wins over one with a parameter, as API Gateway matches them, and a
        # greedy one (`{proxy+}`) takes only what no other resource matches.
        self.routes.sort(key=lambda r: (r.resource.endswith("+}"), r.resource.count("{"), -len(r.resource)))
        self._loopback: Loopback | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The stage's URL, as `make deploy` prints it."""
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    def start(self) -> ApiGateway:
        self._loopback = Loopback(_gateway_handler(self))
        self.port = self._loopback.port
        return self

    def connect(self, function: FunctionEndpoint) -> None:
        self.function = function

    def stop(self) -> None:
        if self._loopback is not None:
            self._loopback.stop()

    def handle(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes,
               source_ip: str) -> tuple[int, list[tuple[str, str]], bytes]:
        parts = urlsplit(target)
        prefix = self.prefix
        if prefix and parts.path != prefix and not parts.path.startswith(prefix + "/"):
            return self.gateway_error("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token",
                                      method, parts.path)
        path = parts.path[len(prefix):] or "/"
        match = next(((route, m) for route in self.routes if (m := route.pattern.match(path))), None)
        if match is None or method not in match[0].methods:
            return self.gateway_error("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token",
                                      method, parts.path)
        route, found = match
        event = self._event(method, parts.path, path, parts.query, route, found, headers, body, source_ip)
        assert self.function is not None, "the API function is not running yet"
        try:
            result = self.function.invoke(event, timeout_s=INTEGRATION_TIMEOUT_S)
        except (FunctionError, requests.Timeout):
            return self.gateway_error("DEFAULT_5XX", 502, "Internal server error", method, parts.path)
        answer = _response(result)
        if answer is None:
            return self.gateway_error("DEFAULT_5XX", 502, "Internal server error", method, parts.path)
        return answer

    def gateway_error(self, kind: str, status: int, message: str, method: str,
                      path: str) -> tuple[int, list[tuple[str, str]], bytes]:
        """API Gateway's own answer: the API's gateway response of that type, else of its
        DEFAULT_4XX or DEFAULT_5XX, else the built-in `{"message"}` body."""
        fallback = "DEFAULT_4XX" if status < 500 else "DEFAULT_5XX"
        found = self.responses.get(kind) or self.responses.get(fallback)
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", kind)]
        if found is None:
            return status, headers, json.dumps({"message": message}).encode()
        code, template = found
        body = (template.replace("$context.error.messageString", json.dumps(message))
                .replace("$context.httpMethod", method).replace("$context.path", path))
        return int(code or status), headers, body.encode()

    def _event(self, method: str, full_path: str, path: str, query: str, route: Route, found: re.Match[str],
               headers: list[tuple[str, str]], body: bytes, source_ip: str) -> dict[str, Any]:
        single: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for name, value in headers:
            single[name] = value
            multi.setdefault(name, []).append(value)
        pairs = parse_qsl(query, keep_blank_values=True)
        query_single = {k: v for k, v in pairs}
        query_multi: dict[str, list[str]] = {}
        for k, v in pairs:
            query_multi.setdefault(k, []).append(v)
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "").split(";")[0].strip()
        binary = content_type in self.binary_types
        now = datetime.now(UTC)
        request_id = str(uuid.uuid4())
        return {
            "resource": route.resource, "path": path, "httpMethod": method,
            "headers": single or None, "multiValueHeaders": multi or None,
            "queryStringParameters": query_single or None, "multiValueQueryStringParameters": query_multi or None,
            "pathParameters": dict(zip(route.names, found.groups(), strict=True)) or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": uuid.uuid4().hex[:6], "resourcePath": route.resource, "httpMethod": method,
                "extendedRequestId": request_id, "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "path": full_path, "accountId": ACCOUNT, "protocol": "HTTP/1.1", "stage": self.stage,
                "domainPrefix": "127", "requestTimeEpoch": int(now.timestamp() * 1000), "requestId": request_id,
                "identity": {"sourceIp": source_ip, "userAgent": single.get("User-Agent")},
                "domainName": "127.0.0.1", "apiId": REST_API_ID,
            },
            "body": (base64.b64encode(body).decode() if binary else body.decode("utf-8", "replace")) if body else None,
            "isBase64Encoded": binary and bool(body),
        }


def _response(result: Any) -> tuple[int, list[tuple[str, str]], bytes] | None:
    """The proxy integration's answer, or None when the function's result is not one."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return None
    headers: list[tuple[str, str]] = []
    multi = result.get("multiValueHeaders") or {}
    for name, value in (result.get("headers") or {}).items():
        if name not in multi:
            headers.append((name, str(value)))
    for name, values in multi.items():
        headers += [(name, str(v)) for v in values]
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    return int(result["statusCode"]), headers, body


def _gateway_handler(gateway: ApiGateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_PAYLOAD:
                self._send(*gateway.gateway_error("REQUEST_TOO_LARGE", 413, "Request Too Long", self.command,
                                                  self.path.split("?")[0]))
                self.close_connection = True
                return
            body = self.rfile.read(length) if length else b""
            # What API Gateway adds on the way in.
            headers = [(k, v) for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")]
            headers += [("X-Forwarded-For", self.client_address[0]), ("X-Forwarded-Port", str(gateway.port)),
                        ("X-Forwarded-Proto", "http")]
            code, out, data = gateway.handle(self.command, self.path, headers, body, self.client_address[0])
            self._send(code, out, data)

        def _send(self, code: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(code)
            for name, value in headers:
                if name.lower() not in ("content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


# --- EventBridge: a schedule rule per function ------------------------------------------------

def scheduled_event(rule: str) -> dict[str, Any]:
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": ACCOUNT, "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}"], "detail": {}}


class Schedule:
    """A rule with `rate(1 minute)`, ticking every `interval_s` here (the local equivalent of a
    minute); a tick is skipped while the last one still runs, as an invocation that outlives
    the rate would only overlap itself."""

    def __init__(self, rule: str, interval_s: float, function: FunctionEndpoint,
                 on_error: Callable[[str, Exception], None]) -> None:
        self._rule = rule
        self._interval_s = interval_s
        self._function = function
        self._on_error = on_error
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"schedule-{rule}", daemon=True)
        self._enabled = True
        self._busy = threading.Lock()

    @property
    def function(self) -> FunctionEndpoint:
        return self._function

    def start(self) -> Schedule:
        self._thread.start()
        return self

    def disable(self) -> None:
        """As DisableRule: no more invocations; one under way finishes first."""
        self._enabled = False
        with self._busy:
            pass

    def enable(self) -> None:
        self._enabled = True

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        next_at = time.monotonic() + self._interval_s
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            next_at += self._interval_s
            with self._busy:
                if not self._enabled:
                    continue
                try:
                    self._function.invoke(scheduled_event(self._rule))
                except Exception as error:  # noqa: BLE001 - EventBridge retries; the next tick comes anyway
                    self._on_error(self._rule, error)
