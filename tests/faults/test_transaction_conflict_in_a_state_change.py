"""Fault: a second writer changes an execution's row between a state change's read and its
write: another process's edit, a user's cancel, another dispatcher taking the last slot. The
state change is one DynamoDB transaction (row, event, slot counters), so it happens whole or not
at all: the loser leaves the counters and the events as they were, and whoever retries reads
again and decides again, on what the other wrote. The second writer is real: a write to DynamoDB
Local from another client, made while the executor waits for the Kubernetes stand-in."""
from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

from tests.faults.engine_on_a_cluster import (
    FaultyCluster,
    new_repo_task,
    put_away,
    reconcile_on_cluster,
    slots_of,
    states_of,
    take_slot,
)

pytestmark = [pytest.mark.xdist_group("in-process"), pytest.mark.usefixtures("engine_tables")]


def edit_elsewhere(task_id: str, priority: int) -> None:
    """Another process's field edit: a compare-and-swap write that moves the version, as every
    writer of the table does, through its own client."""
    from chalicelib.store.models import ExecutionModel

    boto3.client("dynamodb", endpoint_url=os.environ["OPTIO_DYNAMODB_ENDPOINT"],
                 region_name=os.environ["AWS_REGION"]).update_item(
        TableName=ExecutionModel.Meta.table_name, Key={"id": {"S": task_id}},
        UpdateExpression="SET #p = :p, #v = #v + :one",
        ConditionExpression="attribute_exists(id)",
        ExpressionAttributeNames={"#p": "priority", "#v": "version"},
        ExpressionAttributeValues={":p": {"N": str(priority)}, ":one": {"N": "1"}})


def test_a_slot_taken_on_a_row_moved_meanwhile_is_all_or_nothing() -> None:
    from chalicelib.core.dispatch import SlotLimits
    from chalicelib.core.states import State
    from chalicelib.store import executions

    task_id = new_repo_task("queued")
    free = slots_of(task_id)
    read = executions.get(task_id)
    edit_elsewhere(task_id, 7)

    with pytest.raises(executions.LostRace):
        executions.transition(read, State.PROVISIONING, trigger="dispatcher", message="concurrency slot taken",
                              now=datetime.now(UTC), limits=SlotLimits(10_000, 5))
    # Nothing of it was written: not the row, not the event, not the counters.
    row = executions.get(task_id)
    assert (row.state, int(row.attempt or 0), int(row.priority)) == ("queued", 0, 7)
    assert int(row.version) == int(read.version) + 1
    assert states_of(task_id) == ["queued"]
    assert slots_of(task_id) == free
    # Read again, decided again: the slot is taken once, the other write kept.
    take_slot(task_id)
    row = executions.get(task_id)
    assert (row.state, int(row.attempt), int(row.priority)) == ("provisioning", 1, 7)
    assert states_of(task_id) == ["queued", "provisioning"]
    assert slots_of(task_id) == (free[0] + 1, free[1] + 1)
    put_away(task_id)
    assert slots_of(task_id) == free


def test_the_last_slot_taken_meanwhile_is_all_or_nothing() -> None:
    from chalicelib.core.dispatch import SlotLimits
    from chalicelib.core.states import State
    from chalicelib.store import executions

    first = new_repo_task("queued")
    # A second task of the same repository, whose slot counter allows one.
    second = new_repo_task("queued", repoId=executions.get(first).repoId)
    free = slots_of(first)
    read = executions.get(second)
    # Another dispatcher takes the repository's one slot for the first task.
    executions.transition(executions.get(first), State.PROVISIONING, trigger="dispatcher",
                          message="concurrency slot taken", now=datetime.now(UTC), limits=SlotLimits(10_000, 1))
    with pytest.raises(executions.CapacityFull):
        executions.transition(read, State.PROVISIONING, trigger="dispatcher", message="concurrency slot taken",
                              now=datetime.now(UTC), limits=SlotLimits(10_000, 1))
    row = executions.get(second)
    assert (row.state, int(row.attempt or 0), int(row.version)) == ("queued", 0, int(read.version))
    assert states_of(second) == ["queued"]
    assert slots_of(first) == (free[0] + 1, free[1] + 1)
    put_away(first)
    put_away(second)
    assert slots_of(first) == free


def running_task(cluster: FaultyCluster, tmp_path: Path) -> str:
    """A task whose attempt's Job runs and whose runner has started, on the stand-in."""
    from chalicelib.core.states import ExecutionKind
    from chalicelib.core.tokens import run_token
    from chalicelib.engine.credentials import run_token_secret
    from chalicelib.launch.k8s_job import job_name
    from chalicelib.services import runner_channel

    task_id = new_repo_task("queued")
    take_slot(task_id)
    launched = reconcile_on_cluster(cluster, tmp_path, task_id)
    assert launched.errors == [] and launched.first_decisions() == ["Launch"], launched.taken
    cluster.run_pod(job_name(task_id, 1))
    token = run_token(run_token_secret(), task_id, 1)
    runner_channel.handle(ExecutionKind.REPO_TASK, task_id, token, {"kind": "started", "attempt": 1})
    return task_id


def cancel(task_id: str) -> None:
    from chalicelib.core.states import State
    from chalicelib.store import executions

    executions.transition(executions.get(task_id), State.CANCELLED, trigger="user", message="cancelled by a user",
                          now=datetime.now(UTC))


@pytest.mark.parametrize(
    ("second_writer", "decided_again", "ends"),
    [
        # An edit: the executor fails the attempt after all, with the edit kept.
        (lambda task_id: edit_elsewhere(task_id, 9), ["Transition", "Transition", "WaitUntil"], "failed"),
        # A cancel: the task is cancelled, and the executor's failure is not written over it.
        (cancel, ["Transition", "Noop"], "cancelled"),
    ],
    ids=["an-edit", "a-cancel"],
)
def test_transaction_conflict_in_a_state_change(cluster: FaultyCluster, tmp_path: Path,
                                                second_writer: Callable[[str], None], decided_again: list[str],
                                                ends: str) -> None:
    from chalicelib.launch.k8s_job import job_name
    from chalicelib.store import executions

    task_id = running_task(cluster, tmp_path)
    job = job_name(task_id, 1)
    holding = slots_of(task_id)
    free = (holding[0] - 1, holding[1] - 1)
    cluster.fail_pod(job)
    # The executor reads the row, then asks the cluster about the pod: the other write lands then.
    cluster.meanwhile = ("GET", rf"/jobs/{job}$", lambda: second_writer(task_id))

    reconciled = reconcile_on_cluster(cluster, tmp_path, task_id)

    assert reconciled.errors == []
    assert cluster.meanwhile is None, "the second writer did not run"
    [steps] = reconciled.taken
    assert [kind for kind, _ in steps] == decided_again, steps
    row = executions.get(task_id)
    assert row.state == ends
    assert states_of(task_id) == ["queued", "provisioning", "running", ends]
    # The slot was given back exactly once, by whichever state change was written.
    assert slots_of(task_id) == free
    if ends == "failed":
        assert int(row.priority) == 9 and row.errorKind
    put_away(task_id)
