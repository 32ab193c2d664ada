"""Task dependencies: satisfaction, failure, and cycles."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .states import State

S = State
# A dependency that opened its pull request has done its part: dependents may build on it.
SATISFIED = frozenset({S.COMPLETED, S.PR_OPENED})


@dataclass(frozen=True)
class DepView:
    id: str
    # None when the dependency no longer exists.
    state: State | None
    retry_pending: bool = False

    @property
    def satisfied(self) -> bool:
        return self.state in SATISFIED

    @property
    def failed_for_good(self) -> bool:
        return self.state is None or (self.state is S.FAILED and not self.retry_pending)


def find_cycle(task_id: str, new_deps: Iterable[str], deps_of: Mapping[str, Sequence[str]]) -> list[str] | None:
    """If `task_id` came to depend on `new_deps`, the cycle that would close, as a path that starts
    and ends at `task_id`; None when there is none. `deps_of` holds every known edge reachable
    from `new_deps`."""
    for start in new_deps:
        path = _path(start, task_id, deps_of, set())
        if path is not None:
            return [task_id, *path]
    return None


def _path(node: str, target: str, deps_of: Mapping[str, Sequence[str]], seen: set[str]) -> list[str] | None:
    if node == target:
        return [node]
    if node in seen:
        return None
    seen.add(node)
    for nxt in deps_of.get(node, ()):
        rest = _path(nxt, target, deps_of, seen)
        if rest is not None:
            return [node, *rest]
    return None
