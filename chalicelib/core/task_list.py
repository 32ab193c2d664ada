"""The task list's order, search and keyset paging, decided without the store.

A page ends at a position — (sort value, createdAt, id) of its last task — and the next page starts
strictly after it. A task created meanwhile lands before or after that position but never moves
the others, so paging on shows no task twice and skips none (the store's own offsets, counted in
rows, would shift under an insert). A task whose sort value changes between two pages (its cost
grows while it runs) may show on both or neither: the page de-duplicates by id, and the next
refresh of the loaded pages puts it where it now belongs."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from chalicelib.core.validation import FieldProblem

SORTS = ("created", "priority", "cost")
ORDERS = ("asc", "desc")
# Without an `order`: newest, first to start, most expensive.
DEFAULT_ORDER = {"created": "desc", "priority": "asc", "cost": "desc"}
# A sort other than `created` has no index to walk: it reads every task its filters' index holds and
# sorts them here. Past this many it answers 400 rather than an order over part of the tasks.
SORT_READ_BOUND = 2000
# A search walks the index newest first (or oldest) and keeps the matches: a page stops after
# reading this many tasks even when it found fewer than `limit`, and the cursor goes on from there.
SEARCH_READ_BUDGET = 1000
QUERY_MAX_CHARS = 200
T = TypeVar("T")


@dataclass(frozen=True)
class Order:
    sort: str
    descending: bool


@dataclass(frozen=True)
class Position:
    """Where a page ended: the last task's sort value (None for `created`, whose value is
    `created_at` itself), creation time and id."""

    value: Decimal | None
    created_at: str
    id: str


def order_of(sort: str | None, order: str | None) -> Order | list[FieldProblem]:
    problems = []
    chosen = sort or "created"
    if chosen not in SORTS:
        problems.append(FieldProblem("sort", f"must be one of {', '.join(SORTS)}"))
    if order is not None and order not in ORDERS:
        problems.append(FieldProblem("order", "must be asc or desc"))
    if problems:
        return problems
    return Order(chosen, (order or DEFAULT_ORDER[chosen]) == "desc")


def search_of(q: str | None) -> str | None | list[FieldProblem]:
    """The needle of `q`, compared case-insensitively; blank is no search."""
    if q is None or not q.strip():
        return None
    if len(q) > QUERY_MAX_CHARS:
        return [FieldProblem("q", f"must be at most {QUERY_MAX_CHARS} characters")]
    return q.strip().casefold()


def matches(needle: str | None, texts: Iterable[str | None]) -> bool:
    return needle is None or any(needle in text.casefold() for text in texts if text)


def position(order: Order, *, id: str, created_at: str, priority: float | None,
             cost: Decimal | float | None) -> Position:
    """Where a task stands in `order`; a task without a cost yet counts as $0."""
    value = None
    if order.sort == "priority":
        value = Decimal(str(priority or 0))
    elif order.sort == "cost":
        value = Decimal(str(cost or 0))
    return Position(value, created_at, id)


def _key(at: Position) -> tuple[Decimal, str, str]:
    return (at.value if at.value is not None else Decimal(0), at.created_at, at.id)


def is_after(order: Order, at: Position, start: Position) -> bool:
    return _key(at) < _key(start) if order.descending else _key(at) > _key(start)


def page_after(order: Order, placed: Iterable[tuple[Position, T]], start: Position | None,
               limit: int) -> tuple[list[T], Position | None]:
    """The `limit` items after `start` in `order` (ties broken by creation time then id, in the
    same direction, so that the order is total), and where the next page starts (None after the
    last)."""
    rest = sorted((p for p in placed if start is None or is_after(order, p[0], start)),
                  key=lambda p: _key(p[0]), reverse=order.descending)
    page = rest[:limit]
    return [item for _, item in page], page[-1][0] if len(rest) > limit else None
