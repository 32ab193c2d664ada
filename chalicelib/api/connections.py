"""`/api/connections`: the MCP servers agents may be given (`environment.connections`)."""
from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.core.roles import VIEWER
from chalicelib.core.schemas import CONNECTION_CREATE, CONNECTION_PATCH
from chalicelib.services import connections as actions
from chalicelib.store import connections

from .http import JSON, body_of, created, route
from .shapes import connection_json

bp = Blueprint(__name__)


@route(bp, "/api/connections", methods=["POST"], body=CONNECTION_CREATE, status=201)
def create_connection() -> Response:
    return created(connection_json(actions.create_connection(body_of(bp.current_request))))


@route(bp, "/api/connections", methods=["GET"], role=VIEWER)
def list_connections() -> dict[str, Any]:
    return {"items": [connection_json(c) for c in connections.list_all()], "nextCursor": None}


@route(bp, "/api/connections/{name}", methods=["GET"], role=VIEWER)
def get_connection(name: str) -> dict[str, Any]:
    return connection_json(connections.get(name))


@route(bp, "/api/connections/{name}", methods=["PATCH"], body=CONNECTION_PATCH)
def update_connection(name: str) -> dict[str, Any]:
    return connection_json(actions.update_connection(name, body_of(bp.current_request)))


@route(bp, "/api/connections/{name}", methods=["DELETE"], status=204)
def delete_connection(name: str) -> Response:
    actions.delete_connection(name)
    return Response(body="", status_code=204, headers=JSON)
