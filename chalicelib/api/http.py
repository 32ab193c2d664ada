"""HTTP plumbing shared by every blueprint: the one mapping of errors to responses, bodies,
and list paging."""
from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chalice.app import Blueprint, Request, Response, handle_extra_types

from chalicelib.core.roles import ADMIN, PUBLIC, ROLES
from chalicelib.exceptions import (
    FieldProblem,
    OptioError,
    PayloadTooLarge,
    RateLimited,
    ValidationFailed,
)
from chalicelib.observability import logger
from chalicelib.services.validation import parse_body

JSON: dict[str, str | list[str]] = {"Content-Type": "application/json"}
MAX_BODY_BYTES = 1024 * 1024
LIMIT_DEFAULT, LIMIT_MAX = 50, 200


def error_body(message: str, details: list[FieldProblem] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"error": message}
    if details:
        body["details"] = [{"field": d.field, "problem": d.problem} for d in details]
    body.update(extra)
    return body


def error_response(error: OptioError) -> Response:
    headers: dict[str, str | list[str]] = dict(JSON)
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after_s)
    return Response(
        body=error_body(error.message, error.details, **error.extra),
        status_code=error.status,
        headers=headers,
    )


def our_error_shape(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Chalice answers a few errors itself before any view runs (405 for a method the route
    lacks, 415 for a content type it does not take) in its `{"Code", "Message"}` shape; they
    leave in ours, so a client reads every error the same way."""
    response = get_response(event)
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and set(body) == {"Code", "Message"}:
        response.body = error_body(str(body["Message"]))
        response.headers = {**response.headers, **JSON}
    return response


@dataclass(frozen=True)
class RouteDoc:
    """What the OpenAPI document says of one operation; `body` is the very schema the service
    validates the request with."""

    summary: str
    body: Mapping[str, Any] | None
    query: tuple[str, ...]
    status: int
    # The least role that may call it (`core.roles`), or `public`.
    role: str
    # A body that is not JSON (a session archive): its media types.
    content_types: tuple[str, ...] = ()


DOCS: dict[tuple[str, str], RouteDoc] = {}


def route(
    bp: Blueprint,
    path: str,
    *,
    body: Mapping[str, Any] | None = None,
    query: tuple[str, ...] = (),
    status: int = 200,
    role: str = ADMIN,
    etag: bool = False,
    **options: Any,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`bp.route` whose view's errors become the SPEC's error bodies; an unexpected exception is
    logged and answered with a 500 in the same shape (a 500 is always a bug). `role` is the least
    one that may call it (`api.auth` enforces it): administrators only, unless the route says less.
    `etag`: what the view returns is answered conditionally (`conditional`)."""

    if role not in (*ROLES, PUBLIC):
        raise ValueError(f"{path}: no role {role!r}")

    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        summary = (view.__doc__ or view.__name__.replace("_", " ").capitalize()).strip().splitlines()[0]
        for method in options.get("methods", ["GET"]):
            DOCS[(path, method)] = RouteDoc(summary, body, query, status, role,
                                            tuple(options.get("content_types") or ()))

        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                answer = view(*args, **kwargs)
                return conditional(bp.current_request, answer) if etag else answer
            except OptioError as error:
                return error_response(error)
            except Exception:
                logger.exception("unhandled error", extra={"route": path})
                return Response(body=error_body("internal error"), status_code=500, headers=JSON)

        bp.route(path, **options)(guarded)
        return guarded

    return register


def conditional(request: Request, body: Any) -> Response:
    """A GET's answer with an ETag over its JSON, to be revalidated on every use (`no-cache`):
    304 without a body when the client's If-None-Match names it, so that a page polling a list
    that did not change downloads nothing (browsers send If-None-Match by themselves)."""
    text = json.dumps(body, separators=(",", ":"), default=handle_extra_types)
    tag = f'"{hashlib.sha256(text.encode()).hexdigest()[:32]}"'
    headers: dict[str, str | list[str]] = {"ETag": tag, "Cache-Control": "private, no-cache"}
    # Weak comparison (RFC 9110 13.1.2): a proxy that compresses the body marks the tag weak.
    given = {t.strip().removeprefix("W/") for t in (request.headers.get("if-none-match") or "").split(",")}
    if tag in given or "*" in given:
        return Response(body="", status_code=304, headers=headers)
    return Response(body=text, status_code=200, headers={**JSON, **headers})


def body_of(request: Request) -> Any:
    raw = request.raw_body or b""
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge("the body is larger than 1 MiB")
    if not raw:
        return {}
    return parse_body(raw)


def params_of(request: Request) -> dict[str, str]:
    return dict(request.query_params or {})


def natural(raw: str, max_digits: int = 15) -> int | None:
    """A query parameter as a non-negative integer, or None: ASCII digits only (`str.isdigit`
    takes "²", which `int` refuses), no more of them than a stored number can hold."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > max_digits:
        return None
    return int(raw)


def paging(request: Request) -> tuple[int, str | None]:
    params = params_of(request)
    raw = params.get("limit")
    limit = LIMIT_DEFAULT
    if raw is not None:
        given = natural(raw)
        if given is None or not LIMIT_MAX >= given >= 1:
            raise ValidationFailed(
                "invalid limit", [FieldProblem("limit", f"must be an integer from 1 to {LIMIT_MAX}")]
            )
        limit = int(raw)
    return limit, params.get("cursor")


def query(request: Request, name: str) -> str | None:
    return params_of(request).get(name) or None


def created(body: Any) -> Response:
    return Response(body=body, status_code=201, headers=JSON)
