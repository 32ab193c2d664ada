"""The store's guarantees against a real DynamoDB: compare-and-swap, slots, events, logs."""
from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chalicelib.core.dispatch import SlotLimits, scope_slots_key
from chalicelib.core.states import ExecutionKind, State
from chalicelib.store import executions, logs
from chalicelib.store.models import CounterModel, ExecutionModel
from chalicelib.store.tables import create_all
from tests.conftest import REPO_ROOT

S = State
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module", autouse=True)
def tables() -> None:
    create_all()


def new_task(repo_id: str, state: State = S.QUEUED, priority: int = 0) -> ExecutionModel:
    task_id = str(uuid.uuid4())
    return executions.create({
        "id": task_id, "state": state.value, "title": "t", "prompt": "p", "repoId": repo_id,
        "repoUrl": "file:///nowhere", "repoBranch": "main", "branchName": f"optio/t-{task_id[:8]}",
        "agentType": "claude-code", "priority": priority, "queuedAt": "2026-11-23T12:00:00.000Z",
    }, NOW)


def test_a_stale_read_loses_the_race() -> None:
    task = new_task(str(uuid.uuid4()), S.PENDING)
    stale = executions.get(task.id)
    executions.transition(task, S.QUEUED, trigger="test", message="first", now=NOW)
    with pytest.raises(executions.LostRace):
        executions.transition(stale, S.WAITING_ON_DEPS, trigger="test", message="second", now=NOW)
    assert executions.get(task.id).state == "queued"


def test_forbidden_transitions_are_refused_before_writing() -> None:
    task = new_task(str(uuid.uuid4()), S.PENDING)
    with pytest.raises(executions.InvalidTransition):
        executions.transition(task, S.RUNNING, trigger="test", message="no", now=NOW)
    assert int(executions.get(task.id).version) == 0


def test_every_transition_writes_one_event_in_order() -> None:
    task = new_task(str(uuid.uuid4()), S.PENDING)
    task = executions.transition(task, S.QUEUED, trigger="test", message="ready", now=NOW)
    executions.transition(task, S.CANCELLED, trigger="user", message="stop", now=NOW)
    events = [(e.fromState, e.toState, e.trigger) for e in executions.events(task.id)]
    assert events == [(None, "pending", "api"), ("pending", "queued", "test"),
                      ("queued", "cancelled", "user")]


def test_racing_dispatchers_never_exceed_a_limit() -> None:
    repo_id = str(uuid.uuid4())
    queued = [new_task(repo_id) for _ in range(8)]
    limits = SlotLimits(global_limit=1000, scope_limit=2)
    barrier = threading.Barrier(len(queued))
    won: list[str] = []

    def claim(task: ExecutionModel) -> None:
        barrier.wait()
        try:
            executions.transition(task, S.PROVISIONING, trigger="test", message="go", now=NOW, limits=limits)
            won.append(task.id)
        except (executions.CapacityFull, executions.LostRace):
            pass

    threads = [threading.Thread(target=claim, args=(t,)) for t in queued]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 2
    assert int(CounterModel.get(scope_slots_key(ExecutionKind.REPO_TASK, repo_id)).value) == 2
    # Releasing one slot lets exactly one more in.
    winner = executions.get(won[0])
    executions.transition(winner, S.FAILED, trigger="test", message="done", now=NOW)
    assert int(CounterModel.get(scope_slots_key(ExecutionKind.REPO_TASK, repo_id)).value) == 1
    loser = next(executions.get(t.id) for t in queued if t.id not in won)
    executions.transition(loser, S.PROVISIONING, trigger="test", message="go", now=NOW, limits=limits)
    assert int(CounterModel.get(scope_slots_key(ExecutionKind.REPO_TASK, repo_id)).value) == 2


def test_a_replayed_release_does_not_release_twice() -> None:
    repo_id = str(uuid.uuid4())
    task = new_task(repo_id)
    limits = SlotLimits(global_limit=1000, scope_limit=2)
    task = executions.transition(task, S.PROVISIONING, trigger="t", message="go", now=NOW, limits=limits)
    stale = executions.get(task.id)
    executions.transition(task, S.CANCELLED, trigger="t", message="stop", now=NOW)
    with pytest.raises(executions.LostRace):
        executions.transition(stale, S.FAILED, trigger="t", message="replay", now=NOW)
    assert int(CounterModel.get(scope_slots_key(ExecutionKind.REPO_TASK, repo_id)).value) == 0


def test_queue_index_orders_by_priority_then_age() -> None:
    repo_id = str(uuid.uuid4())
    low = new_task(repo_id, priority=900)
    high = new_task(repo_id, priority=1)
    order = [t.id for t in executions.queue_head(ExecutionKind.REPO_TASK, 200) if t.id in (low.id, high.id)]
    assert order == [high.id, low.id]


def test_log_sequence_numbers_never_collide() -> None:
    task_id = str(uuid.uuid4())
    line = logs.LogLine("text", "x", "2026-11-23T12:00:00.000Z")
    threads = [threading.Thread(target=logs.append, args=(task_id, 1, [line] * 5)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seqs = [int(row.seq) for row in logs.after(task_id, 0, 200)]
    assert seqs == list(range(1, 31))


def test_transitions_emit_cloudwatch_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from chalicelib.core.actions import Transition
    from chalicelib.core.timefmt import parse_iso
    from chalicelib.engine import executor

    task = new_task(str(uuid.uuid4()))
    limits = SlotLimits(global_limit=1000, scope_limit=2)
    task = executor.apply(task, Transition(S.PROVISIONING, "go"), "t", limits=limits)
    task = executor.apply(task, Transition(S.RUNNING, "up"), "t")
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert {m.get("to") for m in emitted if "TaskTransitions" in m} >= {"provisioning", "running"}
    to_start = parse_iso(str(task.startedAt)) - parse_iso(task.createdAt)
    assert [m["TimeToStartMs"] for m in emitted if "TimeToStartMs" in m] == [[to_start.total_seconds() * 1000]]


def test_a_table_from_an_older_version_gets_the_new_indexes_and_keeps_its_rows(tmp_path: Path) -> None:
    # As an upgrade happens: local mode started again on its data directory, its DynamoDB Local
    # with it (a store of its own: the worker's, shared with every other test, once left a new
    # index CREATING for minutes under a full run's load).
    from pynamodb.attributes import UnicodeAttribute
    from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
    from pynamodb.models import Model

    from chalicelib.local.dynamodb_local import DynamoDBLocal
    from chalicelib.store.models import _Meta
    from chalicelib.store.tables import add_missing_indexes

    name = f"{ExecutionModel.Meta.table_name}-upgrade"
    store = DynamoDBLocal(REPO_ROOT / ".deps", db_path=tmp_path / "db", log_path=tmp_path / "dynamodb.log")
    (tmp_path / "db").mkdir()
    store.start()
    try:
        class Before(Model):
            class Meta(_Meta):
                table_name = name
                host = store.endpoint
            id = UnicodeAttribute(hash_key=True)
            kind = UnicodeAttribute(null=True)

        create_all((Before,))
        Before(id="kept", kind="old").save()
        store.stop()
        store.start()

        class KindIndex(GlobalSecondaryIndex["After"]):
            class Meta:
                index_name = "kind-index"
                projection = AllProjection()
            kind = UnicodeAttribute(hash_key=True)

        class After(Model):
            class Meta(_Meta):
                table_name = name
                host = store.endpoint
            id = UnicodeAttribute(hash_key=True)
            kind = UnicodeAttribute(null=True)
            kind_index = KindIndex()

        create_all((After,))
        assert add_missing_indexes(After) == []  # once is enough
        assert [row.id for row in After.kind_index.query("old")] == ["kept"]
    finally:
        store.stop()
