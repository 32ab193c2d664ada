"""Which queued tasks may start now: priority order, within the global and per-repo limits."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class QueuedTask:
    id: str
    repo_id: str
    repo_limit: int


@dataclass(frozen=True)
class Capacity:
    global_used: int
    global_limit: int
    repo_used: Mapping[str, int]


def plan_dispatch(queue: Sequence[QueuedTask], capacity: Capacity) -> list[QueuedTask]:
    """`queue` is in start order (priority, then age). A task whose repo is full is skipped, so
    it does not hold back tasks of other repos behind it."""
    free = capacity.global_limit - capacity.global_used
    used = dict(capacity.repo_used)
    chosen: list[QueuedTask] = []
    for task in queue:
        if free <= 0:
            break
        if used.get(task.repo_id, 0) >= task.repo_limit:
            continue
        chosen.append(task)
        used[task.repo_id] = used.get(task.repo_id, 0) + 1
        free -= 1
    return chosen
