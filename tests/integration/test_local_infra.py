"""DynamoDB Local as a managed process, and the stream poller that stands in for the Lambda trigger.

Everything here runs against a real DynamoDB Local started by this module (not the session one),
so the server can be stopped and restarted without disturbing other tests.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.local.dynamodb_local import DynamoDBLocal, JarNotFoundError, JavaNotFoundError
from chalicelib.local.stream_poller import LocalLambdaContext, StreamPoller
from tests.support.waiting import wait_for as shared_wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPS_DIR = REPO_ROOT / ".deps"

# One worker owns this module's server under `--dist loadgroup`.
pytestmark = pytest.mark.xdist_group("local_infra")


# The stream poller answers within milliseconds: poll finely. The deadline is for a loaded
# machine (a test run's other workers on two cores); how fast it answers is bench/streams.py's.
wait_for = functools.partial(shared_wait_for, timeout_s=60.0, interval_s=0.01)


def process_gone(pid: int) -> bool:
    """True once `pid` has exited; an unreaped zombie counts as exited (it no longer runs)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self) -> list[str]:
        return [record.getMessage() for record in self.records]


@pytest.fixture
def captured_logger(request: pytest.FixtureRequest) -> Iterator[tuple[logging.Logger, ListHandler]]:
    logger = logging.getLogger(f"test.local_infra.{request.node.name}")
    logger.setLevel(logging.INFO)
    handler = ListHandler()
    logger.addHandler(handler)
    yield logger, handler
    logger.removeHandler(handler)


class Recorder:
    """A stream handler that records every call; `behaviour` decides what each call returns."""

    def __init__(self, behaviour: Callable[[int, dict[str, Any]], Any] | None = None) -> None:
        self.calls: list[tuple[float, dict[str, Any], Any]] = []
        self._behaviour = behaviour
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        with self._lock:
            self.calls.append((time.monotonic(), event, context))
            call_number = len(self.calls)
        return self._behaviour(call_number, event) if self._behaviour else None

    def keys(self) -> list[str]:
        with self._lock:
            return [
                record["dynamodb"]["Keys"]["pk"]["S"]
                for _, event, _ in self.calls
                for record in event["Records"]
            ]


@pytest.fixture(scope="module")
def ddb() -> Iterator[DynamoDBLocal]:
    with DynamoDBLocal(DEPS_DIR) as server:
        yield server


def create_table(client: Any) -> str:
    name = f"infra-{uuid.uuid4().hex[:12]}"
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return name


def put(client: Any, table: str, pk: str, **attributes: str) -> None:
    item = {"pk": {"S": pk}, **{name: {"S": value} for name, value in attributes.items()}}
    client.put_item(TableName=table, Item=item)


@pytest.fixture
def table(ddb: DynamoDBLocal) -> str:
    return create_table(ddb.client())


@pytest.fixture
def pollers() -> Iterator[list[StreamPoller]]:
    started: list[StreamPoller] = []
    yield started
    for poller in started:
        poller.stop()


def test_insert_modify_remove_arrive_in_the_lambda_event_shape(
    ddb: DynamoDBLocal, table: str, pollers: list[StreamPoller]
) -> None:
    client = ddb.client()
    recorder = Recorder()
    poller = StreamPoller(ddb.endpoint, table, recorder)
    poller.start()
    pollers.append(poller)

    put(client, table, "a", colour="red")
    put(client, table, "a", colour="blue")
    client.delete_item(TableName=table, Key={"pk": {"S": "a"}})

    wait_for(lambda: len(recorder.keys()) == 3, what="three stream records")
    records = [record for _, event, _ in recorder.calls for record in event["Records"]]
    stream_arn = client.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    for record in records:
        assert list(record) == [
            "eventID",
            "eventName",
            "eventVersion",
            "eventSource",
            "awsRegion",
            "dynamodb",
            "eventSourceARN",
        ]
        assert record["eventVersion"] == "1.1"
        assert record["eventSource"] == "aws:dynamodb"
        assert record["awsRegion"] == "us-east-1"
        assert record["eventSourceARN"] == stream_arn
        stream_record = record["dynamodb"]
        assert stream_record["Keys"] == {"pk": {"S": "a"}}
        assert stream_record["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert isinstance(stream_record["SequenceNumber"], str)
        assert isinstance(stream_record["SizeBytes"], int)
        created = stream_record["ApproximateCreationDateTime"]
        assert isinstance(created, (int, float))
        assert abs(created - time.time()) < 120  # the emulator rounds down to the minute
    insert, modify, remove = (r["dynamodb"] for r in records)
    assert insert["NewImage"] == {"pk": {"S": "a"}, "colour": {"S": "red"}}
    assert "OldImage" not in insert
    assert modify["OldImage"] == {"pk": {"S": "a"}, "colour": {"S": "red"}}
    assert modify["NewImage"] == {"pk": {"S": "a"}, "colour": {"S": "blue"}}
    assert remove["OldImage"] == {"pk": {"S": "a"}, "colour": {"S": "blue"}}
    assert "NewImage" not in remove
    # Lambda events are JSON: nothing boto-specific (datetimes, bytes) may leak through.
    for _, event, _ in recorder.calls:
        assert json.loads(json.dumps(event)) == event


def test_handler_gets_a_lambda_like_context(
    ddb: DynamoDBLocal, table: str, pollers: list[StreamPoller]
) -> None:
    recorder = Recorder()
    poller = StreamPoller(ddb.endpoint, table, recorder, function_name="task-stream")
    poller.start()
    pollers.append(poller)
    put(ddb.client(), table, "a")
    put(ddb.client(), table, "b")
    wait_for(lambda: len(recorder.keys()) == 2, what="two records")

    contexts = [context for _, _, context in recorder.calls]
    assert all(isinstance(context, LocalLambdaContext) for context in contexts)
    context = contexts[0]
    assert context.function_name == "task-stream"
    assert context.invoked_function_arn == "arn:aws:lambda:us-east-1:000000000000:function:task-stream"
    assert context.memory_limit_in_mb > 0
    assert 0 < context.get_remaining_time_in_millis() <= 60_000
    assert uuid.UUID(context.aws_request_id)
    request_ids = {c.aws_request_id for c in contexts}
    assert len(request_ids) == len(contexts)


def test_a_wake_polls_at_once_whatever_the_idle_wait(
    ddb: DynamoDBLocal, table: str, pollers: list[StreamPoller]
) -> None:
    # An hour between idle polls: each record below arrives only because wake() was called.
    client = ddb.client()
    recorder = Recorder()
    poller = StreamPoller(ddb.endpoint, table, recorder, idle_wait_s=3600)
    poller.start()
    pollers.append(poller)
    for key in ("a", "b", "c"):
        put(client, table, key)
        poller.wake()
        wait_for(lambda key=key: key in recorder.keys(), what=f"record {key} after a wake")
    assert recorder.keys() == ["a", "b", "c"]


def test_records_written_before_start_are_not_delivered(
    ddb: DynamoDBLocal, table: str, pollers: list[StreamPoller]
) -> None:
    client = ddb.client()
    put(client, table, "before")
    recorder = Recorder()
    poller = StreamPoller(ddb.endpoint, table, recorder)
    poller.start()
    pollers.append(poller)
    put(client, table, "after")

    # Records of a shard arrive in order, so once "after" is in, "before" never will be.
    wait_for(lambda: "after" in recorder.keys(), what="the record written after start")
    assert recorder.keys() == ["after"]


def test_a_reported_item_failure_is_redelivered_with_the_rest_of_its_batch(
    ddb: DynamoDBLocal, table: str
) -> None:
    client = ddb.client()

    def fail_b_once(call_number: int, event: dict[str, Any]) -> Any:
        if call_number > 1:
            return {"batchItemFailures": []}
        failed = [
            r["dynamodb"]["SequenceNumber"]
            for r in event["Records"]
            if r["dynamodb"]["Keys"]["pk"]["S"] == "b"
        ]
        return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}

    recorder = Recorder(fail_b_once)
    poller = StreamPoller(ddb.endpoint, table, recorder)
    assert poller.poll_once() == 0  # pins LATEST before the writes
    for pk in ("a", "b", "c"):
        put(client, table, pk)

    wait_for(lambda: poller.poll_once() and recorder.keys(), what="the first batch")
    assert recorder.keys() == ["a", "b", "c"]
    wait_for(lambda: poller.poll_once(), what="the redelivery")
    assert recorder.keys() == ["a", "b", "c", "b", "c"]
    put(client, table, "d")
    wait_for(lambda: poller.poll_once(), what="the next record")
    assert recorder.keys()[-1] == "d"
    assert recorder.keys().count("a") == 1
    assert recorder.keys().count("b") == 2


def test_the_poller_survives_a_raising_handler_and_drops_a_poison_batch_after_retries(
    ddb: DynamoDBLocal,
    table: str,
    pollers: list[StreamPoller],
    captured_logger: tuple[logging.Logger, ListHandler],
) -> None:
    client = ddb.client()

    def raise_on_poison(call_number: int, event: dict[str, Any]) -> Any:
        if any(r["dynamodb"]["Keys"]["pk"]["S"] == "poison" for r in event["Records"]):
            raise RuntimeError("handler bug")
        return None

    recorder = Recorder(raise_on_poison)
    logger, logs = captured_logger
    poller = StreamPoller(ddb.endpoint, table, recorder, logger=logger)
    poller.start()
    pollers.append(poller)

    put(client, table, "poison")
    wait_for(lambda: recorder.keys().count("poison") == 4, what="the first delivery and three retries")
    put(client, table, "healthy")
    wait_for(lambda: "healthy" in recorder.keys(), what="the record after the poison one")

    assert recorder.keys() == ["poison"] * 4 + ["healthy"]
    assert logs.messages().count("stream handler raised") == 4
    dropped = [r for r in logs.records if r.getMessage() == "stream records dropped after retries"]
    assert len(dropped) == 1
    assert dropped[0].table == table  # type: ignore[attr-defined]
    assert len(dropped[0].sequence_numbers) == 1  # type: ignore[attr-defined]


def test_stop_kills_java_and_a_db_path_server_restarts_with_its_data_under_a_running_poller(
    tmp_path: Path, captured_logger: tuple[logging.Logger, ListHandler]
) -> None:
    # One test for all three: each server start costs about two seconds.
    first = DynamoDBLocal(DEPS_DIR, db_path=tmp_path / "db", log_path=tmp_path / "ddb.log")
    first.start()
    first_pid = first.pid
    assert first_pid is not None
    port = int(first.endpoint.rsplit(":", 1)[1])
    client = first.client()
    table = create_table(client)
    logger, logs = captured_logger
    recorder = Recorder()
    poller = StreamPoller(first.endpoint, table, recorder, logger=logger)
    poller.start()
    second = DynamoDBLocal(DEPS_DIR, port=port, db_path=tmp_path / "db", log_path=tmp_path / "ddb.log")
    try:
        put(client, table, "kept", note="written before the restart")
        wait_for(lambda: "kept" in recorder.keys(), what="the record before the restart")
        first.stop()
        assert first.pid is None
        assert process_gone(first_pid)
        wait_for(
            lambda: "stream poll failed" in logs.messages(), what="a poll failing while the server is down"
        )

        second.start()
        client = second.client()
        item = client.get_item(TableName=table, Key={"pk": {"S": "kept"}})["Item"]
        assert item["note"] == {"S": "written before the restart"}
        put(client, table, "later")
        wait_for(lambda: "later" in recorder.keys(), timeout_s=60, what="the record after the restart")
        assert recorder.keys() == ["kept", "later"]
    finally:
        poller.stop()
        second.stop()
        first.stop()


def test_the_server_dies_with_a_killed_parent() -> None:
    script = (
        "import sys, threading\n"
        "from chalicelib.local.dynamodb_local import DynamoDBLocal\n"
        "server = DynamoDBLocal(sys.argv[1])\n"
        "server.start()\n"
        "print(server.pid, flush=True)\n"
        "threading.Event().wait(60)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(DEPS_DIR)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert parent.stdout is not None
    java_pid = int(parent.stdout.readline())
    parent.kill()  # SIGKILL: no Python cleanup runs, only the kernel's parent-death signal
    parent.wait()
    try:
        wait_for(lambda: process_gone(java_pid), what="the orphaned JVM to exit")
    finally:
        if not process_gone(java_pid):
            os.kill(java_pid, signal.SIGKILL)


def test_missing_java_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(JavaNotFoundError) as raised:
        DynamoDBLocal(DEPS_DIR).start()
    message = str(raised.value)
    assert "Java 17" in message
    assert "openjdk-17-jre-headless" in message
    assert "OPTIO_DYNAMODB_ENDPOINT" in message


def test_missing_jar_is_explained(tmp_path: Path) -> None:
    with pytest.raises(JarNotFoundError, match="make dev"):
        DynamoDBLocal(tmp_path).start()
