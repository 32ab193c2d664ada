"""Authentication for every route but the public ones, and the API keys resource."""
from __future__ import annotations

from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie
from typing import Any

from chalice.app import Blueprint, Request, Response

from chalicelib.core.schemas import API_KEY_CREATE
from chalicelib.exceptions import Unauthorized
from chalicelib.services import apikeys

from .dashboard import PAGES
from .http import JSON, body_of, created, error_response, params_of, route
from .shapes import api_key_json

bp = Blueprint(__name__)

# The runner's channel carries its own per-attempt token, checked by its handler.
PUBLIC_PREFIXES = ("/api/health", "/api/setup/", "/api/hooks/", "/api/webhooks/github",
                   "/api/internal/", "/api/auth/session", "/static/")
SESSION_COOKIE = "optio_session"
PRINCIPAL = "optioPrincipal"


def token_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[len("bearer "):].strip() or None
    cookie_header = request.headers.get("cookie")
    if cookie_header:
        try:
            morsel = SimpleCookie(cookie_header).get(SESSION_COOKIE)
        except CookieError:
            morsel = None
        if morsel and morsel.value:
            return morsel.value
    return params_of(request).get("token") or None


def require_token(event: Request, get_response: Callable[[Request], Response]) -> Response:
    if event.path.startswith(PUBLIC_PREFIXES) or event.path in PAGES or event.method == "OPTIONS":
        return get_response(event)
    token = token_of(event)
    if token is None:
        return error_response(Unauthorized("authentication required: send a Bearer token"))
    principal = apikeys.principal_of(token)
    if principal is None:
        return error_response(Unauthorized("invalid token"))
    event.context[PRINCIPAL] = principal
    return get_response(event)


def principal(request: Request) -> str:
    """The caller, as `require_token` found it (`admin` or `apikey:<id>`)."""
    return str(request.context.get(PRINCIPAL, apikeys.ADMIN))


@route(bp, "/api/auth/api-keys", methods=["POST"], body=API_KEY_CREATE, status=201)
def create_api_key() -> Response:
    key, token = apikeys.create_key(body_of(bp.current_request))
    return created({**api_key_json(key), "token": token})


@route(bp, "/api/auth/api-keys", methods=["GET"])
def list_api_keys() -> dict[str, Any]:
    return {"items": [api_key_json(k) for k in apikeys.list_keys()], "nextCursor": None}


@route(bp, "/api/auth/api-keys/{key_id}", methods=["DELETE"], status=204)
def delete_api_key(key_id: str) -> Response:
    apikeys.delete_key(key_id)
    return Response(body="", status_code=204, headers=JSON)



