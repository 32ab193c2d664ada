"""Fault: every batch of the tasks table's stream is delivered three times in a row (Lambda
delivers at least once; a retried batch comes again whole). Here the test is the Lambda trigger:
a poller on DynamoDB Local's real Streams API hands each batch to the product's handler three
times. One agent runs, each transition is recorded once, and the slot counters end where they
began."""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.support.api import Api
from tests.support.gitrepo import make_bare_repo

pytestmark = pytest.mark.xdist_group("in-process")

Handler = Callable[[dict[str, Any], Any], Any]


@pytest.fixture(scope="module")
def in_process() -> Iterator[Api]:
    """The app served from this process with no engine of its own: the test delivers records."""
    from chalicelib.local.stack import LocalStack

    stack = LocalStack(os.environ)
    stack.start(engine=False)
    yield Api(stack.url, ADMIN_TOKEN)
    stack.stop()


def slots() -> dict[str, int]:
    from chalicelib.store.models import CounterModel

    return {counter.key: int(counter.value or 0) for counter in CounterModel.scan()
            if str(counter.key).startswith("slots#")}


def test_the_same_stream_batch_replayed_three_times(in_process: Api, tmp_path: Path) -> None:
    from app import execution_stream
    from chalicelib.local.stream_poller import StreamPoller
    from chalicelib.settings import settings
    from chalicelib.store.models import ExecutionModel

    answers: list[Any] = []

    def thrice(event: dict[str, Any], context: Any) -> Any:
        for _ in range(3):
            answers.append(execution_stream(json.loads(json.dumps(event)), context))
        return answers[-1]

    assert settings.dynamodb_endpoint
    before = slots()
    poller = StreamPoller(settings.dynamodb_endpoint, ExecutionModel.Meta.table_name, thrice)
    poller.start()
    try:
        repo = in_process.ok("POST", "/api/repos", {"repoUrl": str(make_bare_repo(tmp_path))}, status=201)
        task = in_process.ok("POST", "/api/tasks", {"title": "Thrice", "prompt": "[fake:sleep=1] write it",
                                                    "repoId": repo["id"]}, status=201)
        in_process.wait_state(task["id"], "completed", timeout_s=60)
    finally:
        poller.stop()

    assert answers and all(answer == {"batchItemFailures": []} for answer in answers)
    log = Path(os.environ["FAKE_AGENT_LOG"])
    runs = [json.loads(line) for line in log.read_text().splitlines() if line and task["id"] in line]
    assert len(runs) == 1
    states = [e["to"] for e in in_process.ok("GET", f"/api/tasks/{task['id']}/events")["items"]]
    assert states == ["pending", "queued", "provisioning", "running", "completed"]
    after = slots()
    # A counter first written by this test starts at 0.
    assert {key: after.get(key, 0) for key in before | after} == {key: before.get(key, 0) for key in before | after}
