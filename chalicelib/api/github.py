"""GitHub: `/api/issues` (list, assign) and the `/api/webhooks/github` receiver (SPEC §8)."""
from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.core.issues import ISSUE_ASSIGN
from chalicelib.core.roles import MEMBER, PUBLIC, VIEWER
from chalicelib.services import issues, webhooks

from .http import JSON, body_of, query, route
from .shapes import task_json

bp = Blueprint(__name__)


@route(bp, "/api/issues", methods=["GET"], role=VIEWER, query=("repoId", "state"))
def list_issues() -> dict[str, Any]:
    """Issues of the connected GitHub repositories: unassigned first, then most recently updated"""
    request = bp.current_request
    return {"items": issues.list_issues(query(request, "repoId"), query(request, "state")),
            "nextCursor": None}


@route(bp, "/api/issues/assign", methods=["POST"], role=MEMBER, body=ISSUE_ASSIGN, status=201)
def assign_issue() -> Response:
    """Assign a GitHub issue to Optio: a task, a comment and the optio label; once per issue"""
    task, created = issues.assign(body_of(bp.current_request))
    return Response(body=task_json(task), status_code=201 if created else 200, headers=JSON)


@route(bp, "/api/webhooks/github", methods=["POST"], role=PUBLIC)
def github_webhook() -> dict[str, Any]:
    """GitHub webhook deliveries, signed with GITHUB_WEBHOOK_SECRET"""
    request = bp.current_request
    raw = request.raw_body or b""
    return webhooks.handle(dict(request.headers), raw.encode() if isinstance(raw, str) else raw)
