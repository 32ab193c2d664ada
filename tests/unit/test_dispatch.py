from chalicelib.core.dispatch import Capacity, QueuedTask, plan_dispatch


def q(task_id: str, repo: str = "r1", limit: int = 2) -> QueuedTask:
    return QueuedTask(task_id, repo, limit)


def test_takes_tasks_in_queue_order_up_to_the_global_limit() -> None:
    plan = plan_dispatch([q("a", "r1"), q("b", "r2"), q("c", "r3")], Capacity(0, 2, {}))
    assert [t.id for t in plan] == ["a", "b"]


def test_a_full_repo_does_not_hold_back_other_repos() -> None:
    queue = [q("a", "r1"), q("b", "r1"), q("c", "r2")]
    plan = plan_dispatch(queue, Capacity(0, 5, {"r1": 1}))
    assert [t.id for t in plan] == ["a", "c"]


def test_nothing_starts_when_the_global_limit_is_used() -> None:
    assert plan_dispatch([q("a")], Capacity(5, 5, {})) == []


def test_per_repo_limit_counts_tasks_started_in_the_same_plan() -> None:
    queue = [q("a", limit=1), q("b", limit=1)]
    assert [t.id for t in plan_dispatch(queue, Capacity(0, 5, {}))] == ["a"]
