"""The warm-pool plan (`core.warm_pools.plan_pool`): which runners to start, stop and forget."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core.states import ExecutionKind
from chalicelib.core.warm_pools import (
    ForgetPod,
    PoolAction,
    PoolView,
    StartPods,
    StopPod,
    WarmPodView,
    WarmState,
    plan_pool,
    pool_key,
    pool_scope,
)

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
POOL = "repo#r1"
IDLE, ASSIGNED = WarmState.IDLE, WarmState.ASSIGNED


def pod(pod_id: str, state: WarmState = IDLE, alive: bool = True, age_s: int = 600) -> WarmPodView:
    return WarmPodView(pod_id, state, NOW - timedelta(seconds=age_s), alive)


def kinds(actions: list[PoolAction]) -> list[tuple[str, str | int]]:
    return [(type(a).__name__, a.count if isinstance(a, StartPods) else a.pod_id) for a in actions]


CASES = [
    ("an empty pool of 2 starts 2", 2, [], timedelta(0), [("StartPods", 2)]),
    ("a full pool does nothing", 2, [pod("a"), pod("b")], timedelta(0), []),
    ("size 0 stops every idle runner", 0, [pod("a"), pod("b")], timedelta(0), [("StopPod", "b"), ("StopPod", "a")]),
    ("shrinking stops the youngest", 1, [pod("old", age_s=900), pod("young", age_s=60)], timedelta(0),
     [("StopPod", "young")]),
    ("an assigned runner is not the pool's: the pool refills", 2, [pod("a"), pod("b", ASSIGNED)], timedelta(0),
     [("StartPods", 1)]),
    ("a dead idle runner is stopped and replaced", 2, [pod("a"), pod("dead", alive=False)], timedelta(0),
     [("StopPod", "dead"), ("StartPods", 1)]),
    ("an assigned runner whose agent exited is forgotten", 1, [pod("a"), pod("done", ASSIGNED, alive=False)],
     timedelta(0), [("ForgetPod", "done")]),
    ("an assigned runner still working stays", 1, [pod("a"), pod("busy", ASSIGNED)], timedelta(0), []),
    ("a runner not showing yet counts as starting within the grace", 2,
     [pod("a"), pod("new", alive=False, age_s=30)], timedelta(minutes=4), []),
    ("past the grace it is dead", 2, [pod("a"), pod("new", alive=False, age_s=300)], timedelta(minutes=4),
     [("StopPod", "new"), ("StartPods", 1)]),
    ("without a grace a missing runner is dead at once", 1, [pod("new", alive=False, age_s=1)], timedelta(0),
     [("StopPod", "new"), ("StartPods", 1)]),
]


@pytest.mark.parametrize(("size", "pods", "grace", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_plan(size: int, pods: list[WarmPodView], grace: timedelta, expected: list[tuple[str, str | int]]) -> None:
    assert kinds(plan_pool(PoolView(POOL, size, pods, grace), NOW)) == expected


def test_every_action_says_why() -> None:
    planned = plan_pool(PoolView(POOL, 1, [pod("dead", alive=False), pod("done", ASSIGNED, alive=False)]), NOW)
    assert {type(a) for a in planned} == {StopPod, ForgetPod, StartPods}
    assert all(a.reason for a in planned)


def test_pool_keys_name_their_scope() -> None:
    for kind in ExecutionKind:
        assert pool_scope(pool_key(kind, "x-1")) == (kind, "x-1")
    with pytest.raises(ValueError):
        pool_scope("queue#x")
