"""The only code that writes the comments table."""
from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import DeleteError, UpdateError

from chalicelib.core.timefmt import iso
from chalicelib.exceptions import NotFound

from .models import CommentModel
from .pages import Page, decode_cursor, page_of

_CONDITION_FAILED = "ConditionalCheckFailedException"


def create(task_id: str, comment_id: str, author: str, author_user_id: str | None, body: str,
           now: datetime) -> CommentModel:
    created = iso(now)
    comment = CommentModel(
        taskId=task_id, commentKey=f"{created}#{comment_id}", id=comment_id, author=author,
        authorUserId=author_user_id, body=body, createdAt=created, updatedAt=created,
    )
    comment.save(condition=CommentModel.commentKey.does_not_exist())
    return comment


def find(task_id: str, comment_id: str) -> CommentModel:
    # A task's comments are one partition: a consistent query there finds a comment written a
    # moment ago, which an index on `id` might not show yet.
    query = CommentModel.query(
        task_id, filter_condition=CommentModel.id == comment_id, consistent_read=True
    )
    found = next(iter(query), None)
    if found is None:
        raise NotFound(f"comment {comment_id} not found")
    return found


def _gone(comment: CommentModel) -> NotFound:
    return NotFound(f"comment {comment.id} not found")


def set_body(comment: CommentModel, body: str, now: datetime) -> CommentModel:
    # The author never changes, so the condition only fails when the comment was deleted
    # meanwhile (an update would otherwise recreate it).
    try:
        comment.update(
            actions=[CommentModel.body.set(body), CommentModel.updatedAt.set(iso(now))],
            condition=CommentModel.author == comment.author,
        )
    except UpdateError as error:
        if error.cause_response_code == _CONDITION_FAILED:
            raise _gone(comment) from None
        raise
    return comment


def delete(comment: CommentModel) -> None:
    try:
        comment.delete(condition=CommentModel.author == comment.author)
    except DeleteError as error:
        if error.cause_response_code == _CONDITION_FAILED:
            raise _gone(comment) from None
        raise


def list_comments(task_id: str, limit: int, cursor: str | None) -> Page[CommentModel]:
    return page_of(CommentModel.query(
        task_id, consistent_read=True, limit=limit, last_evaluated_key=decode_cursor(cursor)
    ))


def delete_all(task_id: str) -> None:
    """A deleted task takes its comments with it."""
    with CommentModel.batch_write() as batch:
        for comment in CommentModel.query(task_id, attributes_to_get=["taskId", "commentKey"]):
            batch.delete(comment)
