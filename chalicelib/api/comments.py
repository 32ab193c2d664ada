"""`/api/tasks/:id/comments`: comments on a task, oldest first."""
from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.core.roles import MEMBER, VIEWER
from chalicelib.core.schemas import COMMENT_WRITE
from chalicelib.services import comments

from .auth import acting
from .http import JSON, body_of, created, paging, route
from .shapes import comment_json

bp = Blueprint(__name__)


@route(bp, "/api/tasks/{task_id}/comments", methods=["POST"], role=MEMBER, body=COMMENT_WRITE, status=201)
def add_comment(task_id: str) -> Response:
    request = bp.current_request
    return created(comment_json(comments.add_comment(task_id, acting(request), body_of(request))))


@route(bp, "/api/tasks/{task_id}/comments", methods=["GET"], role=VIEWER, query=("limit", "cursor"))
def list_comments(task_id: str) -> dict[str, Any]:
    page = comments.list_comments(task_id, *paging(bp.current_request))
    return {"items": [comment_json(c) for c in page.items], "nextCursor": page.next_cursor}


@route(bp, "/api/tasks/{task_id}/comments/{comment_id}", methods=["PATCH"], role=MEMBER, body=COMMENT_WRITE)
def edit_comment(task_id: str, comment_id: str) -> dict[str, Any]:
    request = bp.current_request
    return comment_json(comments.edit_comment(task_id, comment_id, acting(request), body_of(request)))


@route(bp, "/api/tasks/{task_id}/comments/{comment_id}", methods=["DELETE"], role=MEMBER, status=204)
def delete_comment(task_id: str, comment_id: str) -> Response:
    comments.delete_comment(task_id, comment_id, acting(bp.current_request))
    return Response(body="", status_code=204, headers=JSON)
