"""`/api/auth/session`: the dashboard's sign-in, which turns a token into the session cookie."""
from __future__ import annotations

from chalice.app import Blueprint, Request, Response

from chalicelib.core.schemas import SESSION_CREATE
from chalicelib.exceptions import Unauthorized
from chalicelib.services import apikeys
from chalicelib.services.validation import require_valid

from .auth import SESSION_COOKIE
from .http import JSON, body_of, route

bp = Blueprint(__name__)


def _cookie(request: Request, value: str, max_age: int | None = None) -> str:
    # HttpOnly keeps the token out of page scripts; Secure only where the page came over https.
    attributes = [f"{SESSION_COOKIE}={value}", "HttpOnly", "SameSite=Strict", "Path=/"]
    if max_age is not None:
        attributes.append(f"Max-Age={max_age}")
    if request.headers.get("x-forwarded-proto") == "https":
        attributes.append("Secure")
    return "; ".join(attributes)


@route(bp, "/api/auth/session", methods=["POST"], body=SESSION_CREATE)
def sign_in() -> Response:
    """Sign in: set the session cookie from a valid token"""
    token = require_valid(SESSION_CREATE, body_of(bp.current_request))["token"]
    principal = apikeys.principal_of(token)
    if principal is None:
        raise Unauthorized("invalid token")
    return Response(body={"principal": principal}, status_code=200,
                    headers={**JSON, "Set-Cookie": _cookie(bp.current_request, token)})


@route(bp, "/api/auth/session", methods=["DELETE"], status=204)
def sign_out() -> Response:
    """Sign out: clear the session cookie"""
    return Response(body="", status_code=204, headers={**JSON, "Set-Cookie": _cookie(bp.current_request, "", 0)})
