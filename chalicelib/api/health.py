"""`GET /api/health`: is the store reachable, which launcher runs agents."""
from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.core.roles import PUBLIC
from chalicelib.services.health import check

from .http import JSON, route

bp = Blueprint(__name__)


@route(bp, "/api/health", methods=["GET"], role=PUBLIC)
def health() -> Response:
    report = check()
    return Response(body=report, status_code=200 if report["healthy"] else 503, headers=JSON)
