"""Fault: DynamoDB throttles a state change. The engine reaches DynamoDB Local through a proxy on
its wire that answers the state change's TransactWriteItems as DynamoDB does when throttled: the
whole request refused (`ProvisionedThroughputExceededException`, `ThrottlingException`), which
the client retries, for a while; or the transaction cancelled because one of its items, the hot
slot counter, was throttled (`TransactionCanceledException`, reason `ThrottlingError`), which no
client retries. Either way the state change is all or nothing (no row, event or counter written
by the refused try) and is tried again safely: written once, its slot given back once."""
from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.dynamodb_proxy import DynamoDBProxy
from tests.faults.engine_on_a_cluster import (
    FaultyCluster,
    launch_and_start,
    new_repo_task,
    put_away,
    reconcile_on_cluster,
    slots_of,
    states_of,
)

pytestmark = [pytest.mark.xdist_group("in-process"), pytest.mark.usefixtures("engine_tables")]

TRANSACT_WRITE = "DynamoDB_20120810.TransactWriteItems"
ERRORS = "com.amazonaws.dynamodb.v20120810#"
# DynamoDB's messages, as documented for TransactWriteItems and its cancellation reasons.
MESSAGES = {
    "ProvisionedThroughputExceededException":
        "The level of configured provisioned throughput for the table was exceeded. Consider increasing your "
        "provisioning level with the UpdateTable API.",
    "ThrottlingException": "Throughput exceeds the current capacity of your table or index. DynamoDB is "
                           "automatically scaling your table or index so please try again shortly.",
}
# Beyond the client's retries (botocore's standard mode: 3 attempts for PynamoDB's settings).
PERSISTENT = 10


@dataclass
class ThrottlingProxy:
    """Between the engine and DynamoDB Local: forwards every request, except that it answers the
    next `throttles` TransactWriteItems with the throttle `error` (the whole request refused, or
    with `cancel_item` set, the transaction cancelled for that item's ThrottlingError)."""

    upstream: str
    error: str = "ThrottlingException"
    throttles: int = 0
    cancel_item: int | None = None
    throttled: int = 0
    passed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    _proxy: DynamoDBProxy | None = None

    def start(self) -> ThrottlingProxy:
        self._proxy = DynamoDBProxy(self.upstream, lambda _caller, target, body: self.throttle(target, body))
        self.url = self._proxy.url
        return self

    def stop(self) -> None:
        if self._proxy is not None:
            self._proxy.stop()

    def throttle(self, target: str, body: bytes) -> tuple[int, dict[str, Any]] | None:
        if target != TRANSACT_WRITE:
            return None
        with self.lock:
            if self.throttles <= 0:
                self.passed += 1
                return None
            self.throttles -= 1
            self.throttled += 1
        if self.cancel_item is None:
            return 400, {"__type": ERRORS + self.error, "message": MESSAGES[self.error]}
        items = len(json.loads(body)["TransactItems"])
        codes = ["ThrottlingError" if i == self.cancel_item else "None" for i in range(items)]
        reasons = [{"Code": code, **({"Message": MESSAGES["ThrottlingException"]} if code != "None" else {})}
                   for code in codes]
        return 400, {"__type": ERRORS + "TransactionCanceledException",
                     "message": f"Transaction cancelled, please refer cancellation reasons for specific reasons "
                                f"[{', '.join(codes)}]",
                     "CancellationReasons": reasons}


@pytest.fixture
def proxy() -> Iterator[ThrottlingProxy]:
    server = ThrottlingProxy(os.environ["OPTIO_DYNAMODB_ENDPOINT"]).start()
    yield server
    server.stop()


def failing_pod(cluster: FaultyCluster, tmp_path: Path) -> tuple[str, tuple[int, int]]:
    """A running task whose pod has just failed: the next reconcile's state change fails it and
    gives its slot back. Returns the task and the slot counters once given back."""
    task_id = new_repo_task("queued", maxRetries=0)
    free = slots_of(task_id)
    cluster.fail_pod(launch_and_start(cluster, tmp_path, task_id))
    assert slots_of(task_id) == (free[0] + 1, free[1] + 1)
    return task_id, free


def assert_failed_once(task_id: str, free: tuple[int, int]) -> None:
    from chalicelib.store import executions

    row = executions.get(task_id)
    assert (row.state, row.errorKind) == ("failed", "crash"), row.errorMessage
    assert states_of(task_id) == ["queued", "provisioning", "running", "failed"]
    assert slots_of(task_id) == free


@pytest.mark.parametrize("error", ["ProvisionedThroughputExceededException", "ThrottlingException"])
def test_a_throttled_request_is_retried_by_the_client(cluster: FaultyCluster, tmp_path: Path,
                                                       proxy: ThrottlingProxy, error: str) -> None:
    task_id, free = failing_pod(cluster, tmp_path)
    proxy.error, proxy.throttles = error, 1

    reconciled = reconcile_on_cluster(cluster, tmp_path, task_id, OPTIO_DYNAMODB_ENDPOINT=proxy.url)

    assert reconciled.errors == []
    assert reconciled.taken == [[["Transition", "the agent's runner exited with code 1: see the task's logs"],
                                 ["Noop", "failed; no automatic retry left"]]], reconciled.taken
    # Refused once, then sent again by the client and written: once.
    assert (proxy.throttled, proxy.passed) == (1, 1)
    assert_failed_once(task_id, free)
    put_away(task_id)


def test_a_throttle_that_outlasts_the_client_retries_leaves_everything_as_it_was(
        cluster: FaultyCluster, tmp_path: Path, proxy: ThrottlingProxy) -> None:
    from chalicelib.store import executions

    task_id, free = failing_pod(cluster, tmp_path)
    before = executions.get(task_id)
    proxy.throttles = PERSISTENT

    refused = reconcile_on_cluster(cluster, tmp_path, task_id, OPTIO_DYNAMODB_ENDPOINT=proxy.url)

    [error] = refused.errors
    assert "ThrottlingException" in error, error
    assert proxy.passed == 0 and proxy.throttled >= 2
    # Nothing of the state change was written: not the row, not the event, not the counters.
    row = executions.get(task_id)
    assert (row.state, int(row.version)) == ("running", int(before.version))
    assert states_of(task_id) == ["queued", "provisioning", "running"]
    assert slots_of(task_id) == (free[0] + 1, free[1] + 1)
    # The throttle lifts; the record is delivered again (or the resync comes): written once.
    proxy.throttles = 0
    again = reconcile_on_cluster(cluster, tmp_path, task_id, OPTIO_DYNAMODB_ENDPOINT=proxy.url)
    assert again.errors == [] and again.first_decisions() == ["Transition"], again.taken
    assert_failed_once(task_id, free)
    put_away(task_id)


@pytest.mark.parametrize("item", [2, 3], ids=["global-slot-counter", "repo-slot-counter"])
def test_dynamodb_throttle_in_a_state_change(cluster: FaultyCluster, tmp_path: Path, proxy: ThrottlingProxy,
                                             item: int) -> None:
    task_id, free = failing_pod(cluster, tmp_path)
    # The transaction is event, row, then the two slot counters; one counter is throttled.
    proxy.throttles, proxy.cancel_item = 1, item

    reconciled = reconcile_on_cluster(cluster, tmp_path, task_id, OPTIO_DYNAMODB_ENDPOINT=proxy.url)

    assert reconciled.errors == []
    [steps] = reconciled.taken
    # Cancelled whole, read again and decided again: the same decision, written once.
    assert [step for step, _ in steps] == ["Transition", "Transition", "Noop"], steps
    assert steps[0] == steps[1]
    assert (proxy.throttled, proxy.passed) == (1, 1)
    assert_failed_once(task_id, free)
    put_away(task_id)
