"""The workflow-runs store against a real DynamoDB: slots taken and given back in the same
transaction as the state change, so racing dispatchers never exceed `maxConcurrent` or
`OPTIO_MAX_WORKFLOW_CONCURRENT`."""
from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest

from chalicelib.core.workflow_runs import RunState
from chalicelib.store import workflow_runs
from chalicelib.store.models import CounterModel, WorkflowRunModel
from chalicelib.store.tables import create_all

pytestmark = pytest.mark.xdist_group("in-process")
R = RunState
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module", autouse=True)
def tables() -> None:
    create_all()


def new_run(config_id: str) -> WorkflowRunModel:
    return workflow_runs.create({"id": str(uuid.uuid4()), "taskConfigId": config_id, "prompt": "p"}, NOW)


def counter(key: str) -> int:
    found = list(CounterModel.batch_get([key]))
    return int(found[0].value) if found else 0


def race(runs: list[WorkflowRunModel], limits: workflow_runs.SlotLimits) -> list[str]:
    started: list[str] = []
    barrier = threading.Barrier(len(runs))

    def take(run: WorkflowRunModel) -> None:
        barrier.wait()
        try:
            workflow_runs.transition(run, R.RUNNING, NOW, limits=limits, trigger="test")
        except (workflow_runs.CapacityFull, workflow_runs.LostRace):
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
    started = race(runs, workflow_runs.SlotLimits(global_limit=10_000, config_limit=2))
    assert len(started) == 2
    assert counter(workflow_runs.config_slots_key(config_id)) == 2
    queued = {r.id for r in workflow_runs.queue_head(200)}
    assert not queued & set(started) and {r.id for r in runs} - set(started) <= queued


def test_racing_dispatchers_never_exceed_the_global_limit() -> None:
    before = counter(workflow_runs.GLOBAL_SLOTS)
    runs = [new_run(str(uuid.uuid4())) for _ in range(8)]
    started = race(runs, workflow_runs.SlotLimits(global_limit=before + 3, config_limit=2))
    assert len(started) == 3 and counter(workflow_runs.GLOBAL_SLOTS) == before + 3
    for run_id in started:
        workflow_runs.transition(workflow_runs.get(run_id), R.COMPLETED, NOW, trigger="test")
    assert counter(workflow_runs.GLOBAL_SLOTS) == before


def test_leaving_running_gives_the_slots_back_once() -> None:
    config_id = str(uuid.uuid4())
    run = new_run(config_id)
    running = workflow_runs.transition(run, R.RUNNING, NOW, limits=workflow_runs.SlotLimits(10_000, 1))
    assert running.attempt == 1 and running.activePartition and running.queuePartition is None
    stale = workflow_runs.get(run.id)
    failed = workflow_runs.transition(running, R.FAILED, NOW, {"errorMessage": "x", "retryable": True})
    with pytest.raises(workflow_runs.LostRace):
        workflow_runs.transition(stale, R.COMPLETED, NOW)
    assert counter(workflow_runs.config_slots_key(config_id)) == 0
    # Failed with a retry to come: still on the resync's list; without one, off it.
    assert workflow_runs.get(run.id).activePartition == "active"
    workflow_runs.transition(failed, R.QUEUED, NOW, {"retryCount": 1})
    again = workflow_runs.transition(workflow_runs.get(run.id), R.RUNNING, NOW,
                                     limits=workflow_runs.SlotLimits(10_000, 1))
    assert again.attempt == 2
    workflow_runs.transition(again, R.FAILED, NOW, {"errorMessage": "x"})
    assert workflow_runs.get(run.id).activePartition is None
    assert run.id not in set(workflow_runs.active_ids())
    assert counter(workflow_runs.config_slots_key(config_id)) == 0


def test_progress_lands_only_on_the_running_attempt() -> None:
    run = workflow_runs.transition(new_run(str(uuid.uuid4())), R.RUNNING, NOW,
                                   limits=workflow_runs.SlotLimits(10_000, 1))
    assert workflow_runs.record_progress(run.id, 1, {"costUsd": 0.5})
    assert not workflow_runs.record_progress(run.id, 2, {"costUsd": 0.7})
    assert float(workflow_runs.get(run.id).costUsd) == 0.5


def test_run_transitions_emit_cloudwatch_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    run = workflow_runs.transition(new_run(str(uuid.uuid4())), R.RUNNING, NOW,
                                   limits=workflow_runs.SlotLimits(10_000, 10))
    capsys.readouterr()
    workflow_runs.transition(run, R.COMPLETED, NOW, {"costUsd": 0.25})
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert {"to": "completed", "RunTransitions": [1.0]}.items() <= emitted[0].items()
    assert emitted[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Optio"
    assert emitted[1]["RunCostUsd"] == [0.25]
