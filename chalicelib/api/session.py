"""`/api/auth/*` but the keys: signing in and out. Either way the browser ends up with the
`optio_session` cookie: a token given to `POST /api/auth/session`, or a session made when the
identity provider sends the browser back to `/api/auth/callback`."""
from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Request, Response

from chalicelib.core.roles import PUBLIC, VIEWER
from chalicelib.core.schemas import SESSION_CREATE
from chalicelib.engine.api_url import api_url
from chalicelib.exceptions import Unauthorized
from chalicelib.services import apikeys, oidc, users
from chalicelib.services.validation import require_valid
from chalicelib.store import users as user_rows

from .auth import SESSION_COOKIE, acting, cookie_of, token_of
from .http import JSON, body_of, params_of, route
from .shapes import user_json

bp = Blueprint(__name__)

# The sign-in under way: its state, nonce and PKCE verifier, for the provider's redirect back.
FLOW_COOKIE = "optio_oidc"
FLOW_MAX_AGE_S = 600


def _cookie(request: Request, name: str, value: str, max_age: int | None = None, same_site: str = "Strict") -> str:
    # HttpOnly keeps the token out of page scripts; Secure only where the page came over https.
    attributes = [f"{name}={value}", "HttpOnly", f"SameSite={same_site}", "Path=/"]
    if max_age is not None:
        attributes.append(f"Max-Age={max_age}")
    if request.headers.get("x-forwarded-proto") == "https":
        attributes.append("Secure")
    return "; ".join(attributes)


def _callback_url() -> str:
    return api_url() + "/api/auth/callback"


@route(bp, "/api/auth/session", methods=["POST"], role=PUBLIC, body=SESSION_CREATE)
def sign_in() -> Response:
    """Sign in: set the session cookie from a valid token"""
    request = bp.current_request
    token = require_valid(SESSION_CREATE, body_of(request))["token"]
    principal = apikeys.principal_of(token)
    if principal is None:
        raise Unauthorized("invalid token")
    return Response(body={"principal": principal.id, "role": principal.role}, status_code=200,
                    headers={**JSON, "Set-Cookie": _cookie(request, SESSION_COOKIE, token)})


def _signed_out(request: Request) -> Response:
    token = token_of(request)
    if token is not None:
        apikeys.end_session(token)
    return Response(body="", status_code=204,
                    headers={**JSON, "Set-Cookie": _cookie(request, SESSION_COOKIE, "", 0)})


@route(bp, "/api/auth/session", methods=["DELETE"], role=PUBLIC, status=204)
def sign_out() -> Response:
    """Sign out: clear the session cookie"""
    return _signed_out(bp.current_request)


@route(bp, "/api/auth/logout", methods=["POST"], role=PUBLIC, status=204)
def logout() -> Response:
    """Sign out: end the session made by a sign-in and clear its cookie"""
    return _signed_out(bp.current_request)


@route(bp, "/api/auth/login", methods=["GET"], role=PUBLIC, status=302)
def login() -> Response:
    """Sign in through the identity provider: a redirect to it (code flow, PKCE)"""
    request = bp.current_request
    location, flow = oidc.start(_callback_url())
    return Response(body="", status_code=302, headers={
        "Location": location, "Cache-Control": "no-store",
        # Lax: the provider sends the browser back with a top-level cross-site GET.
        "Set-Cookie": _cookie(request, FLOW_COOKIE, flow, FLOW_MAX_AGE_S, same_site="Lax")})


@route(bp, "/api/auth/callback", methods=["GET"], role=PUBLIC, status=302, query=("code", "state"))
def callback() -> Response:
    """The identity provider's redirect back: the session cookie, and a redirect to the dashboard"""
    request = bp.current_request
    identity = oidc.finish(params_of(request), cookie_of(request, FLOW_COOKIE), _callback_url())
    user = users.signed_in(identity.identity, identity.email, identity.name)
    session = apikeys.create_session(user)
    return Response(body="", status_code=302, headers={
        "Location": api_url() + "/", "Cache-Control": "no-store",
        "Set-Cookie": [_cookie(request, SESSION_COOKIE, session, apikeys.SESSION_HOURS * 3600),
                       _cookie(request, FLOW_COOKIE, "", 0, same_site="Lax")]})


@route(bp, "/api/auth/me", methods=["GET"], role=VIEWER)
def me() -> dict[str, Any]:
    """Who the caller is: the principal, its role, and its user (none for the admin token)"""
    caller = acting(bp.current_request)
    user = user_rows.find(caller.user_id) if caller.user_id else None
    return {"principal": caller.id, "role": caller.role, "user": user_json(user) if user else None}
