"""`/api/tasks/:id/comments`: comments on a task, oldest first."""
from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.engine import comments
from chalicelib.store.models import CommentModel

from .auth import principal
from .http import JSON, body_of, created, paging, route

bp = Blueprint(__name__)


def comment_json(comment: CommentModel) -> dict[str, Any]:
    return {"id": comment.id, "taskId": comment.taskId, "author": comment.author, "body": comment.body,
            "createdAt": comment.createdAt, "updatedAt": comment.updatedAt}


@route(bp, "/api/tasks/{task_id}/comments", methods=["POST"])
def add_comment(task_id: str) -> Response:
    request = bp.current_request
    return created(comment_json(comments.add_comment(task_id, principal(request), body_of(request))))


@route(bp, "/api/tasks/{task_id}/comments", methods=["GET"])
def list_comments(task_id: str) -> dict[str, Any]:
    page = comments.list_comments(task_id, *paging(bp.current_request))
    return {"items": [comment_json(c) for c in page.items], "nextCursor": page.next_cursor}


@route(bp, "/api/tasks/{task_id}/comments/{comment_id}", methods=["PATCH"])
def edit_comment(task_id: str, comment_id: str) -> dict[str, Any]:
    request = bp.current_request
    return comment_json(comments.edit_comment(task_id, comment_id, principal(request), body_of(request)))


@route(bp, "/api/tasks/{task_id}/comments/{comment_id}", methods=["DELETE"])
def delete_comment(task_id: str, comment_id: str) -> Response:
    comments.delete_comment(task_id, comment_id, principal(bp.current_request))
    return Response(body="", status_code=204, headers=JSON)
