"""The repo-task list: filtered by the index of its filters, searched and sorted here, paged by
position (`core.task_list`). Sorting by creation time walks the index in its own order, a page at
a time, however many tasks there are; sorting by priority or cost reads every task the filters'
index holds, up to `SORT_READ_BOUND`, and refuses past it (400 naming `sort`) rather than ordering
a part of them."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice

from chalicelib.core import task_list as core
from chalicelib.core.task_list import Order, Position
from chalicelib.exceptions import FieldProblem, ValidationFailed
from chalicelib.store import executions
from chalicelib.store.models import ExecutionModel
from chalicelib.store.pages import Page, decode_cursor, encode_cursor


@dataclass(frozen=True)
class Filters:
    state: str | None
    repo_id: str | None
    created_by: frozenset[str] | None
    # Lower case, or None for no search (`core.task_list.search_of`).
    needle: str | None


def _keeps(filters: Filters, row: ExecutionModel) -> bool:
    return ((filters.created_by is None or row.createdBy in filters.created_by)
            and core.matches(filters.needle, (row.title, row.repoUrl)))


def _position(order: Order, row: ExecutionModel) -> Position:
    return core.position(order, id=row.id, created_at=row.createdAt, priority=row.priority, cost=row.costUsd)


def _cursor(order: Order, at: Position | None) -> str | None:
    if at is None:
        return None
    key = {"sort": {"S": order.sort}, "order": {"S": "desc" if order.descending else "asc"},
           "createdAt": {"S": at.created_at}, "id": {"S": at.id}}
    if at.value is not None:
        key["value"] = {"N": str(at.value)}
    return encode_cursor(key)


def _start(order: Order, cursor: str | None) -> Position | None:
    """The position a cursor names; a cursor of another sort or order is refused (it would start
    the page at a place that means nothing in this one)."""
    key = decode_cursor(cursor)
    if key is None:
        return None
    fields = {name: value.get("S") or value.get("N") for name, value in key.items()}
    same = (fields.get("sort") == order.sort and fields.get("order") == ("desc" if order.descending else "asc")
            and fields.get("createdAt") and fields.get("id") and (order.sort == "created") == ("value" not in fields))
    if not same:
        raise ValidationFailed("invalid cursor", [FieldProblem("cursor", "was returned for another sort or order")])
    value = Decimal(fields["value"]) if "value" in fields else None
    return Position(value, str(fields["createdAt"]), str(fields["id"]))


def list_tasks(filters: Filters, order: Order, limit: int, cursor: str | None) -> Page[ExecutionModel]:
    start = _start(order, cursor)
    if order.sort == "created":
        return _walk(filters, order, limit, start)
    rows = list(islice(executions.walk_tasks(state=filters.state, repo_id=filters.repo_id, descending=True),
                       core.SORT_READ_BOUND + 1))
    if len(rows) > core.SORT_READ_BOUND:
        raise ValidationFailed(f"more than {core.SORT_READ_BOUND} tasks to sort", [FieldProblem(
            "sort", f"{order.sort} sorts at most {core.SORT_READ_BOUND} tasks: narrow them with state or repoId, "
                    "or sort by created")])
    placed = [(_position(order, row), row) for row in rows if _keeps(filters, row)]
    items, last = core.page_after(order, placed, start, limit)
    return Page(items, _cursor(order, last))


def _walk(filters: Filters, order: Order, limit: int, start: Position | None) -> Page[ExecutionModel]:
    """Newest (or oldest) first along the index: the first `limit` tasks the filters keep, reading
    at most `SEARCH_READ_BUDGET` (a page may then hold fewer, and the cursor goes on from the last
    task read)."""
    after = (start.created_at, start.id) if start else None
    rows: Iterator[ExecutionModel] = executions.walk_tasks(
        state=filters.state, repo_id=filters.repo_id, descending=order.descending, after=after)
    items: list[ExecutionModel] = []
    for read, row in enumerate(rows, start=1):
        if _keeps(filters, row):
            if len(items) == limit:
                # One more match read: a next page exists, starting after this page's last task.
                return Page(items, _cursor(order, _position(order, items[-1])))
            items.append(row)
        if read == core.SEARCH_READ_BUDGET:
            return Page(items, _cursor(order, _position(order, row)))
    return Page(items, None)
