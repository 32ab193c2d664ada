"""The task list's order and keyset pages: a total order, pages that neither repeat nor skip a task
when tasks are created between them, and bad parameters named."""
from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib.core.task_list import (
    QUERY_MAX_CHARS,
    Order,
    Position,
    matches,
    order_of,
    page_after,
    position,
    search_of,
)
from chalicelib.core.validation import FieldProblem


@pytest.mark.parametrize(("sort", "order", "expected"), [
    (None, None, Order("created", True)),
    ("created", "asc", Order("created", False)),
    ("priority", None, Order("priority", False)),
    ("cost", None, Order("cost", True)),
    ("cost", "asc", Order("cost", False)),
    ("title", None, [FieldProblem("sort", "must be one of created, priority, cost")]),
    ("cost", "up", [FieldProblem("order", "must be asc or desc")]),
])
def test_sort_and_order_with_their_defaults_or_the_field_at_fault(
        sort: str | None, order: str | None, expected: object) -> None:
    assert order_of(sort, order) == expected


@pytest.mark.parametrize(("q", "expected"), [
    (None, None), ("   ", None), (" Fix LOGIN ", "fix login"),
    ("x" * (QUERY_MAX_CHARS + 1), [FieldProblem("q", f"must be at most {QUERY_MAX_CHARS} characters")]),
])
def test_search_text(q: str | None, expected: object) -> None:
    assert search_of(q) == expected


@pytest.mark.parametrize(("needle", "texts", "expected"), [
    (None, ("anything",), True),
    ("login", ("Fix the LOGIN page", None), True),
    ("acme/web", ("Other", "https://github.com/Acme/Web"), True),
    ("login", ("Fix logout", "https://github.com/acme/api"), False),
    ("login", (None, None), False),
])
def test_search_matches_a_substring_of_any_text_whatever_the_case(
        needle: str | None, texts: tuple[str | None, ...], expected: bool) -> None:
    assert matches(needle, texts) is expected


def test_a_task_without_a_cost_counts_as_nothing_spent() -> None:
    cost = Order("cost", True)
    assert position(cost, id="a", created_at="t", priority=3, cost=None).value == Decimal(0)
    assert position(cost, id="a", created_at="t", priority=3, cost=0.25).value == Decimal("0.25")
    assert position(Order("priority", False), id="a", created_at="t", priority=3, cost=9).value == Decimal(3)
    assert position(Order("created", True), id="a", created_at="t", priority=3, cost=9).value is None


def _tasks(order: Order, *specs: tuple[str, str, int, float | None]) -> list[tuple[Position, str]]:
    return [(position(order, id=i, created_at=c, priority=p, cost=cost), i) for i, c, p, cost in specs]


SPECS = [("a", "01", 1, 0.5), ("b", "02", 0, None), ("c", "03", 1, 2.0), ("d", "04", 0, 0.5), ("e", "05", 2, 0.5)]


@pytest.mark.parametrize(("order", "expected"), [
    (Order("created", True), ["e", "d", "c", "b", "a"]),
    (Order("created", False), ["a", "b", "c", "d", "e"]),
    # Ties by creation time, in the same direction: first to start is the oldest of a priority.
    (Order("priority", False), ["b", "d", "a", "c", "e"]),
    (Order("cost", True), ["c", "e", "d", "a", "b"]),
    (Order("cost", False), ["b", "a", "d", "e", "c"]),
])
def test_pages_follow_one_total_order(order: Order, expected: list[str]) -> None:
    seen: list[str] = []
    start = None
    for _ in range(5):
        page, start = page_after(order, _tasks(order, *SPECS), start, 2)
        seen.extend(page)
        if start is None:
            break
    assert seen == expected


@pytest.mark.parametrize("order", [Order("created", True), Order("priority", False), Order("cost", True)])
def test_tasks_created_between_pages_neither_repeat_nor_hide_the_others(order: Order) -> None:
    first, start = page_after(order, _tasks(order, *SPECS), None, 2)
    # New tasks at either end of the order, and one tied with the page's last task.
    later = [*SPECS, ("f", "06", 0, 9.0), ("g", "07", 5, None), ("h", "00", 1, 0.5)]
    rest: list[str] = []
    while start is not None:
        page, start = page_after(order, _tasks(order, *later), start, 2)
        rest.extend(page)
    old = {spec[0] for spec in SPECS}
    assert not set(first) & set(rest)
    assert set(first) | (set(rest) & old) == old


def test_the_last_page_says_so_and_an_exact_fit_needs_no_empty_page() -> None:
    order = Order("cost", True)
    page, start = page_after(order, _tasks(order, *SPECS), None, 5)
    assert len(page) == 5 and start is None
