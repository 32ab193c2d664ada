import pytest

from chalicelib.core.dispatch import Capacity, Queued, global_slots_key, plan_dispatch, scope_slots_key
from chalicelib.core.states import ExecutionKind


def q(task_id: str, repo: str = "r1", limit: int = 2) -> Queued:
    return Queued(task_id, repo, limit)


def test_takes_tasks_in_queue_order_up_to_the_global_limit() -> None:
    plan = plan_dispatch([q("a", "r1"), q("b", "r2"), q("c", "r3")], Capacity(0, 2, {}))
    assert [t.id for t in plan] == ["a", "b"]


def test_a_full_repo_does_not_hold_back_other_repos() -> None:
    queue = [q("a", "r1"), q("b", "r1"), q("c", "r2")]
    plan = plan_dispatch(queue, Capacity(0, 5, {"r1": 1}))
    assert [t.id for t in plan] == ["a", "c"]


def test_nothing_starts_when_the_global_limit_is_used() -> None:
    assert plan_dispatch([q("a")], Capacity(5, 5, {})) == []
    # A global count above the limit (a limit lowered meanwhile) starts nothing either.
    assert plan_dispatch([q("a")], Capacity(6, 5, {})) == []


def test_per_repo_limit_counts_tasks_started_in_the_same_plan() -> None:
    queue = [q("a", limit=1), q("b", limit=1)]
    assert [t.id for t in plan_dispatch(queue, Capacity(0, 5, {}))] == ["a"]


def test_each_execution_carries_its_own_scope_limit() -> None:
    # Runs of two standalone tasks: one allows 1 at a time, the other 2.
    queue = [q("a", "cfg1", 1), q("b", "cfg1", 1), q("c", "cfg2", 2), q("d", "cfg2", 2), q("e", "cfg2", 2)]
    assert [t.id for t in plan_dispatch(queue, Capacity(0, 10, {"cfg2": 1}))] == ["a", "c"]


def test_an_empty_queue_starts_nothing() -> None:
    assert plan_dispatch([], Capacity(0, 5, {})) == []


@pytest.mark.parametrize("kind,global_key,scope_key", [
    # The keys the store has always used: existing slot counters keep counting.
    (ExecutionKind.REPO_TASK, "slots#global", "slots#repo#x1"),
    (ExecutionKind.RUN, "slots#workflow#global", "slots#workflow#config#x1"),
])
def test_each_kind_counts_its_slots_under_its_own_keys(kind: ExecutionKind, global_key: str, scope_key: str) -> None:
    assert global_slots_key(kind) == global_key
    assert scope_slots_key(kind, "x1") == scope_key
