"""`/api/auth/*` but the keys: signing in and out. Either way the browser ends up with the
`optio_session` cookie: a token given to `POST /api/auth/session`, or a session made when the
identity provider sends the browser back to `/api/auth/callback`.

The command line signs in through the same flow (`optio login --browser`): it listens on a
loopback port and starts the browser at `/api/auth/login?cli=<port>&cliState=<its state>`; the
callback then hands the session to that port instead of setting the browser's cookie. The port is
all a caller chooses: the host is always 127.0.0.1, so the session can go to no other machine."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from chalice.app import Blueprint, Request, Response

from chalicelib.core.roles import PUBLIC, VIEWER
from chalicelib.core.schemas import SESSION_CREATE
from chalicelib.engine.api_url import api_url
from chalicelib.exceptions import FieldProblem, OptioError, Unauthorized, ValidationFailed
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
# A command-line sign-in under way: the CLI's loopback port and its own state.
CLI_COOKIE = "optio_oidc_cli"
CLI_STATE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


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


def _cli_sign_in(params: dict[str, str]) -> str | None:
    """`<port>.<state>` of a command-line sign-in, None for a browser's own; 400 naming the field."""
    if "cli" not in params and "cliState" not in params:
        return None
    port, state = params.get("cli", ""), params.get("cliState", "")
    problems = []
    if not (port.isascii() and port.isdigit() and len(port) <= 5 and 1024 <= int(port) <= 65535):
        problems.append(FieldProblem("cli", "the command line's loopback port: an integer from 1024 to 65535"))
    if not (16 <= len(state) <= 128 and set(state) <= CLI_STATE_CHARS):
        problems.append(FieldProblem("cliState", "16 to 128 characters of A-Z, a-z, 0-9, - and _"))
    if problems:
        raise ValidationFailed("invalid command-line sign-in", problems)
    return f"{port}.{state}"


@route(bp, "/api/auth/login", methods=["GET"], role=PUBLIC, status=302, query=("cli", "cliState"))
def login() -> Response:
    """Sign in through the identity provider: a redirect to it (code flow, PKCE)"""
    request = bp.current_request
    cli = _cli_sign_in(params_of(request))
    location, flow = oidc.start(_callback_url())
    # Lax: the provider sends the browser back with a top-level cross-site GET.
    cookies = [_cookie(request, FLOW_COOKIE, flow, FLOW_MAX_AGE_S, same_site="Lax")]
    # A browser sign-in started after a command line's must not hand its session to that port.
    cookies.append(_cookie(request, CLI_COOKIE, cli or "", FLOW_MAX_AGE_S if cli else 0, same_site="Lax"))
    return Response(body="", status_code=302,
                    headers={"Location": location, "Cache-Control": "no-store", "Set-Cookie": cookies})


def _to_cli(cli: str, answer: dict[str, str]) -> str:
    port, state = cli.split(".", 1)
    return f"http://127.0.0.1:{port}/?" + urlencode({**answer, "state": state})


@route(bp, "/api/auth/callback", methods=["GET"], role=PUBLIC, status=302, query=("code", "state"))
def callback() -> Response:
    """The identity provider's redirect back: the session cookie, and a redirect to the dashboard
    (or, for the command line, the session handed to its loopback port)"""
    request = bp.current_request
    cli = cookie_of(request, CLI_COOKIE)
    cleared = [_cookie(request, FLOW_COOKIE, "", 0, same_site="Lax")]
    if cli:
        cleared.append(_cookie(request, CLI_COOKIE, "", 0, same_site="Lax"))
    try:
        identity = oidc.finish(params_of(request), cookie_of(request, FLOW_COOKIE), _callback_url())
        user = users.signed_in(identity.identity, identity.email, identity.name)
    except OptioError as error:
        if not cli:
            raise
        # The command line is waiting: it shows the refusal, with the exit code of its status.
        return Response(body="", status_code=302, headers={
            "Location": _to_cli(cli, {"error": error.message, "status": str(error.status)}),
            "Cache-Control": "no-store", "Set-Cookie": cleared})
    session = apikeys.create_session(user)
    if cli:
        return Response(body="", status_code=302, headers={
            "Location": _to_cli(cli, {"token": session}), "Cache-Control": "no-store", "Set-Cookie": cleared})
    return Response(body="", status_code=302, headers={
        "Location": api_url() + "/", "Cache-Control": "no-store",
        "Set-Cookie": [_cookie(request, SESSION_COOKIE, session, apikeys.SESSION_HOURS * 3600), *cleared]})


@route(bp, "/api/auth/me", methods=["GET"], role=VIEWER)
def me() -> dict[str, Any]:
    """Who the caller is: the principal, its role, and its user (none for the admin token)"""
    caller = acting(bp.current_request)
    user = user_rows.find(caller.user_id) if caller.user_id else None
    return {"principal": caller.id, "role": caller.role, "user": user_json(user) if user else None}
