"""Redelivered stream records. Lambda delivers at least once, so the handler must be idempotent.

Here the test is the Lambda trigger: a stream poller reads the real Streams API of DynamoDB Local
and hands each batch to the product's handler through a wrapper that records or doubles it.
"""
from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.support.api import Api
from tests.support.gitrepo import make_bare_repo
from tests.support.waiting import wait_for

pytestmark = pytest.mark.xdist_group("in-process")

Handler = Callable[[dict[str, Any], Any], Any]


@pytest.fixture(scope="module")
def in_process() -> Iterator[Api]:
    """The app served from this process, with no engine of its own: the tests deliver records."""
    from chalicelib.local.stack import LocalStack

    stack = LocalStack(os.environ)
    stack.start(engine=False)
    yield Api(stack.url, ADMIN_TOKEN)
    stack.stop()


def drive(wrap: Callable[[Handler], Handler]) -> Any:
    from app import execution_stream
    from chalicelib.local.stream_poller import StreamPoller
    from chalicelib.settings import settings
    from chalicelib.store.models import ExecutionModel

    assert settings.dynamodb_endpoint
    table: str = ExecutionModel.Meta.table_name
    return StreamPoller(settings.dynamodb_endpoint, table, wrap(execution_stream))


def agent_runs(task_id: str) -> list[dict[str, Any]]:
    log = Path(os.environ["FAKE_AGENT_LOG"])
    runs = [json.loads(line) for line in log.read_text().splitlines() if line] if log.exists() else []
    return [r for r in runs if task_id in r["cwd"]]


def create_task(api: Api, tmp_path: Path, prompt: str) -> dict[str, Any]:
    repo = api.ok("POST", "/api/repos", {"repoUrl": str(make_bare_repo(tmp_path))}, status=201)
    return api.ok("POST", "/api/tasks", {"title": "Replay", "prompt": prompt,  # type: ignore[no-any-return]
                                         "repoId": repo["id"]}, status=201)


def test_replaying_a_finished_tasks_whole_stream_changes_nothing(in_process: Api, tmp_path: Path) -> None:
    from app import execution_stream
    from chalicelib.local.stream_poller import LocalLambdaContext

    delivered: list[dict[str, Any]] = []

    def recording(handler: Handler) -> Handler:
        def deliver(event: dict[str, Any], context: Any) -> Any:
            delivered.append(event)
            return handler(event, context)
        return deliver

    def mine() -> list[dict[str, Any]]:
        return [r for e in list(delivered) for r in e["Records"]
                if r["dynamodb"]["Keys"]["id"]["S"] == task["id"]]

    def states_seen() -> set[str]:
        return {r["dynamodb"]["NewImage"]["state"]["S"] for r in mine()}

    poller = drive(recording)
    poller.start()
    try:
        task = create_task(in_process, tmp_path, "write it")
        done = in_process.wait_state(task["id"], "completed")
        wait_for(lambda: "completed" in states_seen(), what="the completed record to be delivered")
    finally:
        poller.stop()
    assert states_seen() >= {"pending", "provisioning", "running", "completed"}
    events_before = in_process.ok("GET", f"/api/tasks/{task['id']}/events")["items"]

    for _ in range(2):
        response = execution_stream({"Records": mine()}, LocalLambdaContext(function_name="execution_stream"))
        assert response == {"batchItemFailures": []}

    after = in_process.task(task["id"])
    assert after["state"] == "completed" and after["version"] == done["version"]
    assert in_process.ok("GET", f"/api/tasks/{task['id']}/events")["items"] == events_before
    assert len(agent_runs(task["id"])) == 1


def test_every_record_delivered_twice_at_once_launches_once(in_process: Api, tmp_path: Path) -> None:
    def doubling(handler: Handler) -> Handler:
        def deliver(event: dict[str, Any], context: Any) -> Any:
            results: list[Any] = []
            barrier = threading.Barrier(2)

            def once() -> None:
                barrier.wait()
                results.append(handler(event, context))

            threads = [threading.Thread(target=once) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return results[0]
        return deliver

    poller = drive(doubling)
    poller.start()
    try:
        task = create_task(in_process, tmp_path, "[fake:sleep=0.5] write it")
        in_process.wait_state(task["id"], "completed")
    finally:
        poller.stop()
    assert len(agent_runs(task["id"])) == 1
    states = [e["to"] for e in in_process.ok("GET", f"/api/tasks/{task['id']}/events")["items"]]
    assert states == ["pending", "queued", "provisioning", "running", "completed"]
