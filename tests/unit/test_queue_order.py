"""Reordering the queue writes the fewest priorities: a moved task changes, its neighbours keep theirs."""
from __future__ import annotations

from chalicelib.core.queue_order import Placed, new_priorities


def tasks(*priorities: int) -> list[Placed]:
    # Queued a minute apart, in the order given.
    return [Placed(f"t{n}", p, f"2026-01-01T00:{n:02d}:00Z") for n, p in enumerate(priorities)]


def test_the_same_order_changes_nothing() -> None:
    assert new_priorities(tasks(0, 0, 5, 9)) == {}


def test_moving_one_task_up_changes_only_that_task() -> None:
    a, b, c, d = tasks(10, 20, 30, 40)
    assert new_priorities([a, b, d, c]) == {"t3": 20}


def test_moving_one_task_to_the_front_takes_the_lowest_priority() -> None:
    a, b, c = tasks(10, 20, 30)
    assert new_priorities([c, a, b]) == {"t2": 0}


def test_moving_one_task_down_among_equal_priorities_changes_only_that_task() -> None:
    a, b, c = tasks(0, 0, 0)
    assert new_priorities([b, c, a]) == {"t0": 1}


def test_ahead_of_older_tasks_of_its_own_priority_the_ones_it_passes_move_back() -> None:
    # No priority below 0: the older tasks it now precedes go one level back, the task stays.
    a, b, c = tasks(0, 0, 0)
    assert new_priorities([c, a, b]) == {"t0": 1, "t1": 1}


def test_reversing_equal_tasks_takes_one_level_per_task_passed() -> None:
    a, b, c = tasks(0, 0, 0)
    assert new_priorities([c, b, a]) == {"t1": 1, "t0": 2}
