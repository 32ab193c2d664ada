"""`GET /api/openapi.json`: the OpenAPI 3.1 document of every route the app serves, built from
the app's route table and the request schemas the services validate with."""
from __future__ import annotations

import re
from typing import Any

from chalice.app import Blueprint, Chalice

from chalicelib.core.roles import PUBLIC, VIEWER
from chalicelib.services.health import VERSION

from .http import DOCS, route

bp = Blueprint(__name__)

_PARAM = re.compile(r"{(\w+)}")
_QUERY_SCHEMAS: dict[str, dict[str, Any]] = {
    "limit": {"type": "integer", "minimum": 1, "maximum": 200},
    "after": {"type": "integer", "minimum": 0},
}
_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "details": {"type": "array", "items": {
            "type": "object", "properties": {"field": {"type": "string"}, "problem": {"type": "string"}}}},
    },
}


def _operation(path: str, method: str, view_name: str) -> dict[str, Any]:
    doc = DOCS[(path, method)]
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(path)
    ]
    parameters += [
        {"name": name, "in": "query", "required": False,
         "schema": _QUERY_SCHEMAS.get(name, {"type": "string"})}
        for name in doc.query
    ]
    responses: dict[str, Any] = {
        # No content, or a redirect's (the identity provider's sign-in).
        str(doc.status): {"description": "success"} if doc.status in (204, 302) else
        {"description": "success", "content": {"application/json": {"schema": {}}}},
        "4XX": {"description": "error", "content": {"application/json": {"schema": _ERROR}}},
    }
    operation: dict[str, Any] = {"operationId": view_name, "summary": doc.summary,
                                 "parameters": parameters, "responses": responses}
    if doc.body is not None:
        operation["requestBody"] = {"required": True,
                                    "content": {"application/json": {"schema": dict(doc.body)}}}
    elif doc.content_types:
        operation["requestBody"] = {"required": True, "content": {
            media: {"schema": {"type": "string", "format": "binary"}} for media in doc.content_types}}
    # The least role that may call it: viewer < member < admin, or public.
    operation["x-optio-role"] = doc.role
    if doc.role == PUBLIC:
        operation["security"] = [] if not path.startswith("/api/internal/") else [{"runToken": []}]
    else:
        operation["description"] = f"Needs the `{doc.role}` role (403 below it)."
    return operation


def document(app: Chalice) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    # Only the API: the dashboard's pages and assets are served by the same app but are no operations.
    for path, methods in sorted(app.routes.items()):
        if not path.startswith("/api/"):
            continue
        paths[path] = {
            method.lower(): _operation(path, method, entry.view_name)
            for method, entry in sorted(methods.items())
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Optio", "version": VERSION,
                 "description": "Coding-agent runs that land as pull requests."},
        "paths": paths,
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "session": {"type": "apiKey", "in": "cookie", "name": "optio_session"},
            "queryToken": {"type": "apiKey", "in": "query", "name": "token"},
            "runToken": {"type": "http", "scheme": "bearer", "description": "per-attempt runner token"},
        }},
        "security": [{"bearer": []}, {"session": []}, {"queryToken": []}],
    }


@route(bp, "/api/openapi.json", methods=["GET"], role=VIEWER)
def openapi() -> dict[str, Any]:
    """The OpenAPI document of this API"""
    return document(bp.current_app)
