"""`/api/templates`: task templates, and running one as a repo task."""
from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.core.roles import MEMBER, VIEWER
from chalicelib.core.schemas import TEMPLATE_CREATE, TEMPLATE_RUN, TEMPLATE_UPDATE
from chalicelib.services import templates as actions
from chalicelib.store import templates

from .http import JSON, body_of, created, paging, route
from .shapes import task_json, template_json

bp = Blueprint(__name__)


@route(bp, "/api/templates", methods=["POST"], role=MEMBER, body=TEMPLATE_CREATE, status=201)
def create_template() -> Response:
    return created(template_json(actions.create_template(body_of(bp.current_request))))


@route(bp, "/api/templates", methods=["GET"], role=VIEWER, query=("limit", "cursor"))
def list_templates() -> dict[str, Any]:
    page = templates.list_templates(*paging(bp.current_request))
    return {"items": [template_json(t) for t in page.items], "nextCursor": page.next_cursor}


@route(bp, "/api/templates/{template_id}", methods=["GET"], role=VIEWER)
def get_template(template_id: str) -> dict[str, Any]:
    return template_json(templates.get(template_id))


@route(bp, "/api/templates/{template_id}", methods=["PATCH"], role=MEMBER, body=TEMPLATE_UPDATE)
def update_template(template_id: str) -> dict[str, Any]:
    return template_json(actions.update_template(template_id, body_of(bp.current_request)))


@route(bp, "/api/templates/{template_id}", methods=["DELETE"], role=MEMBER, status=204)
def delete_template(template_id: str) -> Response:
    actions.delete_template(template_id)
    return Response(body="", status_code=204, headers=JSON)


@route(bp, "/api/templates/{template_id}/run", methods=["POST"], role=MEMBER, body=TEMPLATE_RUN, status=201)
def run_template(template_id: str) -> Response:
    return created(task_json(actions.run_template(template_id, body_of(bp.current_request))))
