"""Fault: the platform takes a running agent away. An eviction (the node ran low on memory:
`Evicted`, `DisruptionTarget`) is not the task's doing, so it is retried at once and without using
the retry budget, even when the task has no retries at all. A pod deleted under a running agent
(someone's `kubectl delete pod`) fails the attempt as `pod_gone`, which the retry table retries
within `maxRetries`. Either way nothing is lost: every attempt is recorded, each slot is given
back, and the next attempt gets a Job of its own."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.engine_on_a_cluster import (
    FaultyCluster,
    launch_and_start,
    new_repo_task,
    put_away,
    reconcile_on_cluster,
    slots_of,
    states_of,
)
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.xdist_group("in-process"), pytest.mark.usefixtures("engine_tables")]


def test_an_eviction_is_retried_without_using_the_budget(cluster: FaultyCluster, tmp_path: Path) -> None:
    from chalicelib.launch.k8s_job import job_name
    from chalicelib.store import executions

    # No retries at all: only a free retry can bring it back.
    task_id = new_repo_task("queued", maxRetries=0)
    free = slots_of(task_id)
    for attempt in (1, 2):
        job = launch_and_start(cluster, tmp_path, task_id)
        assert job == job_name(task_id, attempt)
        cluster.evict_pod(job)
        evicted = reconcile_on_cluster(cluster, tmp_path, task_id)
        assert evicted.errors == []
        [steps] = evicted.taken
        # Failed with the reason, then queued again at once: no backoff for the platform's doing.
        assert [step for step, _ in steps] == ["Transition", "Transition", "Noop"], steps
        assert "the cluster evicted the agent's pod (The node was low on resource: memory" in steps[0][1], steps
        assert steps[1][1] == "retrying: the attempt was lost to the platform, not the agent", steps
        row = executions.get(task_id)
        assert (row.state, int(row.retryCount or 0), int(row.attempt)) == ("queued", 0, attempt)
        # The evicted pod's Job is removed; the slot is back.
        assert cluster.job(job) is None
        assert slots_of(task_id) == free
    failures = [e for e in executions.events(task_id) if str(e.toState) == "failed"]
    assert [str(e.message).split(" (")[0] for e in failures] == ["the cluster evicted the agent's pod"] * 2
    assert states_of(task_id) == ["queued", "provisioning", "running", "failed"] * 2 + ["queued"]
    put_away(task_id)
    assert slots_of(task_id) == free


def test_a_pod_deleted_under_a_running_agent(cluster: FaultyCluster, tmp_path: Path) -> None:
    from chalicelib.launch.k8s_job import job_name
    from chalicelib.store import executions

    task_id = new_repo_task("queued", maxRetries=1)
    free = slots_of(task_id)
    first = launch_and_start(cluster, tmp_path, task_id)
    cluster.delete_pod(first)

    gone = reconcile_on_cluster(cluster, tmp_path, task_id)
    assert gone.errors == [] and gone.first_decisions() == ["Transition"], gone.taken
    row = executions.get(task_id)
    assert (row.state, row.errorKind, row.retryable, int(row.retryCount or 0)) == ("failed", "pod_gone", True, 0)
    assert row.errorMessage == "the agent's pod disappeared while it ran"
    assert slots_of(task_id) == free

    # Per the table: retried within maxRetries, after the backoff, counting the retry.
    def retried() -> bool:
        return reconcile_on_cluster(cluster, tmp_path, task_id).errors == [] and \
            executions.get(task_id).state == "queued"
    wait_for(retried, timeout_s=120, interval_s=0.5, what="the automatic retry")
    assert int(executions.get(task_id).retryCount) == 1
    second = launch_and_start(cluster, tmp_path, task_id)
    assert second == job_name(task_id, 2) and cluster.job(second) is not None

    # Deleted again: the one retry is spent, so it stays failed.
    cluster.delete_pod(second)
    again = reconcile_on_cluster(cluster, tmp_path, task_id)
    assert again.errors == [] and [step for step, _ in again.taken[0]] == ["Transition", "Noop"], again.taken
    assert again.taken[0][1][1] == "failed; no automatic retry left"
    row = executions.get(task_id)
    assert (row.state, row.errorKind, int(row.retryCount)) == ("failed", "pod_gone", 1)
    assert states_of(task_id) == ["queued", "provisioning", "running", "failed"] * 2
    assert slots_of(task_id) == free
    put_away(task_id)
