"""Runs of standalone tasks in the executions store, against a real DynamoDB: slots taken and
given back in the same transaction as the state change, so racing dispatchers never exceed
`maxConcurrent` or `OPTIO_MAX_WORKFLOW_CONCURRENT`."""
from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest

from chalicelib.core.dispatch import SlotLimits, global_slots_key, scope_slots_key
from chalicelib.core.states import ExecutionKind, State
from chalicelib.store import executions
from chalicelib.store.models import CounterModel, ExecutionModel
from chalicelib.store.tables import create_all

pytestmark = pytest.mark.xdist_group("in-process")
R = State
RUN = ExecutionKind.RUN
GLOBAL = global_slots_key(RUN)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module", autouse=True)
def tables() -> None:
    create_all()


def new_run(config_id: str) -> ExecutionModel:
    return executions.create({"id": str(uuid.uuid4()), "type": RUN.value, "state": "queued", "title": "r",
                              "agentType": "claude-code", "taskConfigId": config_id, "prompt": "p",
                              "maxRetries": 1}, NOW)


def move(run: ExecutionModel, to: State, changes: dict[str, object] | None = None,
         limits: SlotLimits | None = None) -> ExecutionModel:
    return executions.transition(run, to, trigger="test", message="test", now=NOW, changes=changes, limits=limits)


def counter(key: str) -> int:
    found = list(CounterModel.batch_get([key]))
    return int(found[0].value) if found else 0


def race(runs: list[ExecutionModel], limits: executions.SlotLimits) -> list[str]:
    started: list[str] = []
    barrier = threading.Barrier(len(runs))

    def take(run: ExecutionModel) -> None:
        barrier.wait()
        try:
            move(run, R.RUNNING, limits=limits)
        except (executions.CapacityFull, executions.LostRace):
            return
        started.append(run.id)

    threads = [threading.Thread(target=take, args=(run,)) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return started


def test_racing_dispatchers_never_exceed_max_concurrent_of_a_task() -> None:
    config_id = str(uuid.uuid4())
    runs = [new_run(config_id) for _ in range(8)]
    started = race(runs, SlotLimits(global_limit=10_000, scope_limit=2))
    assert len(started) == 2
    assert counter(scope_slots_key(RUN, config_id)) == 2
    queued = {r.id for r in executions.queue_head(RUN, 200)}
    assert not queued & set(started) and {r.id for r in runs} - set(started) <= queued


def test_racing_dispatchers_never_exceed_the_global_limit() -> None:
    before = counter(GLOBAL)
    runs = [new_run(str(uuid.uuid4())) for _ in range(8)]
    started = race(runs, SlotLimits(global_limit=before + 3, scope_limit=2))
    assert len(started) == 3 and counter(GLOBAL) == before + 3
    for run_id in started:
        move(executions.get(run_id), R.COMPLETED)
    assert counter(GLOBAL) == before


def test_leaving_running_gives_the_slots_back_once() -> None:
    config_id = str(uuid.uuid4())
    run = new_run(config_id)
    running = move(run, R.RUNNING, limits=SlotLimits(10_000, 1))
    assert running.attempt == 1 and running.activePartition and running.queuePartition is None
    stale = executions.get(run.id)
    failed = move(running, R.FAILED, {"errorMessage": "x", "retryable": True})
    with pytest.raises(executions.LostRace):
        move(stale, R.COMPLETED)
    assert counter(scope_slots_key(RUN, config_id)) == 0
    # Failed with a retry to come: still on the resync's list; without one, off it.
    assert executions.get(run.id).activePartition == "active"
    move(failed, R.QUEUED, {"retryCount": 1})
    again = move(executions.get(run.id), R.RUNNING, limits=SlotLimits(10_000, 1))
    assert again.attempt == 2
    move(again, R.FAILED, {"errorMessage": "x"})
    assert executions.get(run.id).activePartition is None
    assert run.id not in set(executions.active_ids())
    assert counter(scope_slots_key(RUN, config_id)) == 0


def test_progress_lands_only_on_the_running_attempt() -> None:
    run = move(new_run(str(uuid.uuid4())), R.RUNNING, limits=SlotLimits(10_000, 1))
    assert executions.record_progress(run.id, 1, {"costUsd": 0.5})
    assert not executions.record_progress(run.id, 2, {"costUsd": 0.7})
    assert float(executions.get(run.id).costUsd) == 0.5


def test_run_transitions_emit_cloudwatch_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from chalicelib.core.actions import Transition
    from chalicelib.engine import executor

    run = executor.apply(new_run(str(uuid.uuid4())), Transition(R.RUNNING, "slot"), "test",
                         limits=SlotLimits(10_000, 10))
    capsys.readouterr()
    executor.apply(run, Transition(R.COMPLETED, "done", {"costUsd": 0.25}), "test")
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert {"to": "completed", "RunTransitions": [1.0]}.items() <= emitted[0].items()
    assert emitted[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Optio"
    assert emitted[1]["RunCostUsd"] == [0.25]
