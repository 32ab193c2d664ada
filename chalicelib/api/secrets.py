"""`/api/secrets`: write-only values, listed by name."""
from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.core.schemas import SECRET_PUT
from chalicelib.services import secrets as secrets_api
from chalicelib.store import secrets

from .http import JSON, body_of, route
from .shapes import secret_json

bp = Blueprint(__name__)


@route(bp, "/api/secrets", methods=["GET"])
def list_secrets() -> dict[str, Any]:
    return {"items": [secret_json(s) for s in secrets.names()], "nextCursor": None}


@route(bp, "/api/secrets/{name}", methods=["GET"])
def get_secret(name: str) -> dict[str, Any]:
    return secret_json(secrets_api.get_secret(name))


@route(bp, "/api/secrets/{name}", methods=["PUT"], body=SECRET_PUT)
def put_secret(name: str) -> Response:
    secret, created = secrets_api.put_secret(name, body_of(bp.current_request))
    return Response(body=secret_json(secret), status_code=201 if created else 200, headers=JSON)


@route(bp, "/api/secrets/{name}", methods=["DELETE"], status=204)
def delete_secret(name: str) -> Response:
    secrets_api.delete_secret(name)
    return Response(body="", status_code=204, headers=JSON)
