"""The dashboard's and the alarms' own metrics as the code writes them (EMF lines on stdout, which
Lambda sends to CloudWatch): failures by reason, the queue's depth and the agents running."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from chalicelib import observability
from chalicelib.core.dispatch import SlotLimits
from chalicelib.core.states import State
from chalicelib.store import executions
from chalicelib.store.tables import create_all

pytestmark = pytest.mark.xdist_group("in-process")
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module", autouse=True)
def tables() -> None:
    create_all()


def _emitted(out: str) -> dict[str, tuple[float, dict[str, str]]]:
    """Metric name -> (value, its dimensions) of every EMF line printed."""
    found = {}
    for line in out.splitlines():
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                values = document[metric["Name"]]
                found[metric["Name"]] = (float(values[0] if isinstance(values, list) else values),
                                         {d: document[d] for dims in directive["Dimensions"] for d in dims})
    return found


def test_a_failure_counts_by_its_reason(capsys: pytest.CaptureFixture[str]) -> None:
    observability.transition("repo-task", "failed", None, None, "oom_killed")
    observability.transition("workflow-run", "completed", None, 0.5)
    emitted = _emitted(capsys.readouterr().out)
    # (On Lambda powertools adds the `service` dimension, POWERTOOLS_SERVICE_NAME.)
    value, dimensions = emitted["TaskFailures"]
    assert value == 1.0 and dimensions["reason"] == "oom_killed"
    assert "RunFailures" not in emitted  # only a failure says why


def test_the_queue_depth_and_the_agents_running(capsys: pytest.CaptureFixture[str]) -> None:
    before_queued, before_running = executions.load()
    task_id = str(uuid.uuid4())
    task = executions.create({
        "id": task_id, "state": State.QUEUED.value, "title": "t", "prompt": "p", "repoId": f"repo-{task_id[:8]}",
        "repoUrl": "https://github.com/acme/queued", "repoBranch": "main", "branchName": "optio/queued",
        "agentType": "claude-code"}, NOW)
    assert executions.load() == (before_queued + 1, before_running)
    executions.transition(task, State.PROVISIONING, trigger="dispatcher", message="slot taken", now=NOW,
                          limits=SlotLimits(global_limit=1000, scope_limit=1000))
    assert executions.load() == (before_queued, before_running + 1)
    observability.gauges(*executions.load())
    emitted = _emitted(capsys.readouterr().out)
    assert emitted["QueueDepth"][0] == before_queued and emitted["AgentsRunning"][0] == before_running + 1
