"""`/api/hooks/:path`: webhook triggers (public: the trigger's secret signs the body)."""
from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.core.roles import PUBLIC
from chalicelib.exceptions import PayloadTooLarge
from chalicelib.services import hooks

from .http import JSON, MAX_BODY_BYTES, route

bp = Blueprint(__name__)


@route(bp, "/api/hooks/{path}", methods=["POST"], role=PUBLIC, body={"type": "object"}, status=202)
def deliver(path: str) -> Response:
    """Deliver a webhook: runs the trigger's blueprint with the body as params"""
    request = bp.current_request
    given = request.raw_body or b""
    raw = given.encode() if isinstance(given, str) else given
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge("the body is larger than 1 MiB")
    run = hooks.receive(path, raw, request.headers.get("x-optio-signature"))
    return Response(body={"runId": run.id}, status_code=202, headers=JSON)
