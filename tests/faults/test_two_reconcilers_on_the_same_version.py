"""Fault: two reconcilers decide on the same version of an execution at once (a stream record
and the resync, or a record delivered twice to two invocations). The Kubernetes stand-in holds
the first request of each until the other's has come, so both are known to have read the same
row. Each decision is written once (the other's compare-and-swap loses and it decides again on
what the winner wrote), one Job is created, and the slot counters move once."""
from __future__ import annotations

from pathlib import Path

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


def test_two_reconcilers_on_the_same_version(cluster: FaultyCluster, tmp_path: Path) -> None:
    from chalicelib.launch.k8s_job import job_name
    from chalicelib.store import executions

    task_id = new_repo_task("queued")
    free = slots_of(task_id)
    take_slot(task_id)
    taken = executions.get(task_id)
    assert slots_of(task_id) == (free[0] + 1, free[1] + 1)
    job = job_name(task_id, 1)

    # 1. Both decide to launch attempt 1: the stand-in holds the first Job creation until the second comes.
    cluster.hold_next("POST", r"/jobs$")
    launched = reconcile_on_cluster(cluster, tmp_path, task_id, reconcilers=2)
    assert launched.errors == []
    assert cluster.held_all, "the two reconcilers did not both decide to launch"
    assert launched.first_decisions() == ["Launch", "Launch"], launched.taken
    # One Job, made once (the other creation answered AlreadyExists and was adopted), with one pod.
    assert sorted(cluster.answered("POST", r"/jobs$")) == [201, 409]
    assert cluster.job(job) is not None and len(cluster.pods_of(job)) == 1
    # One write of the launch: the loser's compare-and-swap failed and it decided again.
    row = executions.get(task_id)
    assert (row.state, int(row.version), int(row.attempt)) == ("provisioning", int(taken.version) + 1, 1)
    assert row.launchedAt
    assert all(steps[-1][0] == "WaitUntil" for steps in launched.taken), launched.taken
    assert states_of(task_id) == ["queued", "provisioning"]
    assert slots_of(task_id) == (free[0] + 1, free[1] + 1)

    # 2. The pod fails; both decide to fail the attempt, both having read the Job before either writes.
    cluster.fail_pod(job)
    cluster.hold_next("GET", rf"/jobs/{job}$")
    failed = reconcile_on_cluster(cluster, tmp_path, task_id, reconcilers=2)
    assert failed.errors == []
    assert cluster.held_all, "the two reconcilers did not both read the Job"
    assert failed.first_decisions() == ["Transition", "Transition"], failed.taken
    row = executions.get(task_id)
    assert (row.state, int(row.version)) == ("failed", int(taken.version) + 2)
    # One event for the one transition, and the slot given back once.
    assert states_of(task_id) == ["queued", "provisioning", "failed"]
    assert slots_of(task_id) == free
    # The attempt's Job was removed; nothing launched again (the retry waits for its delay).
    assert cluster.job(job) is None
    assert sorted(cluster.answered("POST", r"/jobs$")) == [201, 409]
    put_away(task_id)
