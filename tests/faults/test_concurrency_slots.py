"""Fault: the concurrency slots under completions and redelivered decisions in any order. Each
step applies a transition to a task as read at some earlier point (a stale, redelivered decision)
or as it is now, through the store against DynamoDB Local. After every step the repo's slot
counter is never over its limit, never below zero, and equals the agents holding a slot; every
slot is given back once at the end (a property test: hypothesis picks the orders)."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.core.dispatch import SlotLimits, scope_slots_key
from chalicelib.core.states import SLOT_STATES, ExecutionKind, State
from chalicelib.exceptions import Conflict
from chalicelib.store import executions
from chalicelib.store.models import CounterModel, ExecutionModel
from chalicelib.store.tables import create_all

pytestmark = pytest.mark.xdist_group("in-process")
S = State
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
REPO_LIMIT, TASKS = 2, 4
# Each move, and the state it starts from.
MOVES = {"take": (S.QUEUED, S.PROVISIONING), "start": (S.PROVISIONING, S.RUNNING),
         "finish": (S.RUNNING, S.COMPLETED), "lose": (S.PROVISIONING, S.FAILED), "requeue": (S.FAILED, S.QUEUED)}


@pytest.fixture(scope="module", autouse=True)
def tables() -> None:
    create_all()


def repo_slots(repo_id: str) -> int:
    found = list(CounterModel.batch_get([scope_slots_key(ExecutionKind.REPO_TASK, repo_id)]))
    return int(found[0].value or 0) if found else 0


def move(task: ExecutionModel, name: str) -> None:
    _, to = MOVES[name]
    try:
        executions.transition(task, to, trigger="test", message=name, now=NOW,
                         limits=SlotLimits(10_000, REPO_LIMIT))
    except Conflict:
        pass  # lost race, capacity full, or a transition this state does not allow: nothing written


steps = st.lists(st.tuples(st.integers(0, TASKS - 1), st.sampled_from(sorted(MOVES)), st.booleans(),
                           st.integers(0, 10)), min_size=5, max_size=30)


@settings(max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(steps=steps)
def test_concurrency_slots_under_any_order(steps: list[tuple[int, str, bool, int]]) -> None:
    repo_id = f"slots-{uuid.uuid4().hex[:8]}"
    ids = [executions.create({"id": str(uuid.uuid4()), "state": S.QUEUED.value, "title": "t", "prompt": "p",
                         "repoId": repo_id, "repoUrl": "file:///r", "repoBranch": "main", "branchName": "b",
                         "agentType": "claude-code"}, NOW).id for _ in range(TASKS)]
    seen: dict[str, list[ExecutionModel]] = {task_id: [executions.get(task_id)] for task_id in ids}
    for index, name, stale, back in steps:
        task_id = ids[index]
        history = seen[task_id]
        # A stale decision is one taken on an earlier read of the row, delivered again now.
        move(history[-1 - back % len(history)] if stale else executions.get(task_id), name)
        history.append(executions.get(task_id))
        holding = sum(1 for t in executions.batch(ids) if S(t.state) in SLOT_STATES)
        assert 0 <= repo_slots(repo_id) <= REPO_LIMIT
        assert repo_slots(repo_id) == holding

    for task_id in ids:
        task = executions.get(task_id)
        if S(task.state) in SLOT_STATES:
            executions.transition(task, S.CANCELLED, trigger="test", message="end", now=NOW)
    assert repo_slots(repo_id) == 0
