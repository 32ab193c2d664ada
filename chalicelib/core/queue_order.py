"""A new queue order as the fewest priority changes. The queue starts by (priority, queued at, id),
so a task moved by hand needs a new priority only for itself, and for the others only where equal
priorities leave no room (a task moved ahead of older ones of its own priority)."""
from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Placed:
    id: str
    priority: int
    queued_at: str


def _key(task: Placed, priority: int | None = None) -> tuple[int, str, str]:
    return (task.priority if priority is None else priority, task.queued_at, task.id)


def _kept(order: Sequence[Placed]) -> set[int]:
    """Positions of a longest run of tasks already in the wanted order (they keep their priority)."""
    tails: list[tuple[int, str, str]] = []
    tail_at: list[int] = []
    before: list[int] = [-1] * len(order)
    for position, task in enumerate(order):
        slot = bisect_left(tails, _key(task))
        before[position] = tail_at[slot - 1] if slot else -1
        if slot == len(tails):
            tails.append(_key(task))
            tail_at.append(position)
        else:
            tails[slot], tail_at[slot] = _key(task), position
    kept: set[int] = set()
    position = tail_at[-1] if tail_at else -1
    while position >= 0:
        kept.add(position)
        position = before[position]
    return kept


def new_priorities(order: Sequence[Placed]) -> dict[str, int]:
    """The priorities to change so that the queue starts in `order`: id -> priority."""
    kept = _kept(order)
    # The key of the next kept task after each position: a moved task that already fits stays.
    following: list[tuple[int, str, str] | None] = [None] * len(order)
    for position in range(len(order) - 2, -1, -1):
        after = position + 1
        following[position] = _key(order[after]) if after in kept else following[after]
    changes: dict[str, int] = {}
    previous: tuple[int, str, str] | None = None
    for position, task in enumerate(order):
        upper = following[position]
        fits = (previous is None or _key(task) > previous) and (position in kept or upper is None or _key(task) < upper)
        if fits:
            previous = _key(task)
            continue
        # The lowest priority that puts it after the one before: it leaves the most room above.
        priority = 0 if previous is None else previous[0] + (0 if _key(task, previous[0]) > previous else 1)
        if priority != task.priority:
            changes[task.id] = priority
        previous = _key(task, priority)
    return changes
