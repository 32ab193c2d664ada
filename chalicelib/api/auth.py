"""Authentication and roles for every route, and the API keys resource.

Each route declares the least role that may call it (`route(..., role=...)`, administrators only
unless it says less); the one check is `require_token`, before any view runs. Public routes check
their own proof (a signature, a runner's or a setup token) or need none."""
from __future__ import annotations

from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie
from typing import Any

from chalice.app import Blueprint, Request, Response

from chalicelib.core.roles import PUBLIC, VIEWER, Principal, allows
from chalicelib.core.schemas import API_KEY_CREATE
from chalicelib.exceptions import Forbidden, Unauthorized
from chalicelib.services import apikeys
from chalicelib.services.live import SESSION_COOKIE as SESSION_COOKIE
from chalicelib.store.acting import acting_as

from .http import DOCS, JSON, body_of, created, error_response, params_of, route
from .shapes import api_key_json

bp = Blueprint(__name__)

PRINCIPAL = "optioPrincipal"


def cookie_of(request: Request, name: str) -> str | None:
    cookie_header = request.headers.get("cookie")
    if not cookie_header:
        return None
    try:
        morsel = SimpleCookie(cookie_header).get(name)
    except CookieError:
        return None
    return morsel.value if morsel and morsel.value else None


def token_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[len("bearer "):].strip() or None
    return cookie_of(request, SESSION_COOKIE) or params_of(request).get("token") or None


def require_token(event: Request, get_response: Callable[[Request], Response]) -> Response:
    # `event.path` is the route's pattern (`/api/tasks/{task_id}`), the key its role is kept under.
    doc = DOCS.get((event.path, event.method))
    if event.method == "OPTIONS" or (doc.role == PUBLIC if doc else not event.path.startswith("/api/")):
        # Public routes, and the dashboard's pages and assets: the page asks for a token itself.
        return get_response(event)
    token = token_of(event)
    if token is None:
        return error_response(Unauthorized("authentication required: send a Bearer token"))
    principal = apikeys.principal_of(token)
    if principal is None:
        return error_response(Unauthorized("invalid token"))
    # No doc: a method the path does not have, which Chalice answers with a 405.
    if doc is not None and not allows(principal.role, doc.role):
        return error_response(Forbidden(f"this needs the {doc.role} role; {principal.id} has {principal.role}",
                                        role=doc.role))
    event.context[PRINCIPAL] = principal
    # What the request creates and every event it writes record who did it.
    with acting_as(principal.id):
        return get_response(event)


def acting(request: Request) -> Principal:
    """The caller, as `require_token` found it; only routes that need a role have one."""
    found = request.context.get(PRINCIPAL)
    if not isinstance(found, Principal):
        raise Unauthorized("authentication required: send a Bearer token")
    return found


def principal(request: Request) -> str:
    """Who is acting, as recorded: `admin`, `user:<id>` or `apikey:<id>`."""
    return acting(request).id


@route(bp, "/api/auth/api-keys", methods=["POST"], role=VIEWER, body=API_KEY_CREATE, status=201)
def create_api_key() -> Response:
    """Create an API key: the caller's own, with at most the caller's role (an administrator may make one for another user)"""
    key, token = apikeys.create_key(acting(bp.current_request), body_of(bp.current_request))
    return created({**api_key_json(key), "token": token})


@route(bp, "/api/auth/api-keys", methods=["GET"], role=VIEWER)
def list_api_keys() -> dict[str, Any]:
    """List API keys: an administrator's every key, anyone else's their own"""
    return {"items": [api_key_json(k) for k in apikeys.list_keys(acting(bp.current_request))], "nextCursor": None}


@route(bp, "/api/auth/api-keys/{key_id}", methods=["DELETE"], role=VIEWER, status=204)
def delete_api_key(key_id: str) -> Response:
    """Revoke an API key: one's own, or any for an administrator"""
    apikeys.delete_key(acting(bp.current_request), key_id)
    return Response(body="", status_code=204, headers=JSON)
