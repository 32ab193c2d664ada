"""Comments on tasks: anyone may comment; only a comment's author edits or deletes it. The author
is a person, not a token: a user's sign-in and each of their API keys all count as that user."""
from __future__ import annotations

import uuid
from typing import Any

from chalicelib.core.roles import Principal
from chalicelib.core.schemas import COMMENT_WRITE
from chalicelib.core.states import ExecutionKind
from chalicelib.engine.clock import utcnow
from chalicelib.exceptions import Forbidden
from chalicelib.store import comments, executions
from chalicelib.store.models import CommentModel
from chalicelib.store.pages import Page

from .validation import require_valid


def add_comment(task_id: str, author: Principal, body: Any) -> CommentModel:
    text = require_valid(COMMENT_WRITE, body)["body"]
    executions.get(task_id, ExecutionKind.REPO_TASK)
    return comments.create(task_id, str(uuid.uuid4()), author.id, author.user_id, text, utcnow())


def list_comments(task_id: str, limit: int, cursor: str | None) -> Page[CommentModel]:
    executions.get(task_id, ExecutionKind.REPO_TASK)
    return comments.list_comments(task_id, limit, cursor)


def _own(task_id: str, comment_id: str, caller: Principal) -> CommentModel:
    executions.get(task_id, ExecutionKind.REPO_TASK)
    comment = comments.find(task_id, comment_id)
    same_user = comment.authorUserId is not None and comment.authorUserId == caller.user_id
    if comment.author != caller.id and not same_user:
        raise Forbidden("only the author of a comment can change or delete it")
    return comment


def edit_comment(task_id: str, comment_id: str, caller: Principal, body: Any) -> CommentModel:
    text = require_valid(COMMENT_WRITE, body)["body"]
    return comments.set_body(_own(task_id, comment_id, caller), text, utcnow())


def delete_comment(task_id: str, comment_id: str, caller: Principal) -> None:
    comments.delete(_own(task_id, comment_id, caller))
