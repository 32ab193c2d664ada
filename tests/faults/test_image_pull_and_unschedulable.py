"""Fault: an agent's pod that can never start, for a reason a retry cannot fix: its image does not
pull (`ImagePullBackOff`, `ErrImagePull`), or no node can take it (`PodScheduled` False,
`Unschedulable`, past `OPTIO_K8S_SCHEDULE_TIMEOUT_S`). The task fails with the reason and what to
do, is not retried though it has retries left, its Job is removed so the pod holds no node, and
its slot is given back."""
from __future__ import annotations

from collections.abc import Callable
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

# Past the default OPTIO_K8S_SCHEDULE_TIMEOUT_S (300).
LONG_AGO_S = 400


def image_pull_backoff(cluster: FaultyCluster, job: str) -> None:
    cluster.image_pull_backoff(job)


def err_image_pull(cluster: FaultyCluster, job: str) -> None:
    cluster.image_pull_backoff(job, reason="ErrImagePull")


def unschedulable(cluster: FaultyCluster, job: str) -> None:
    cluster.unschedulable_pod(job)
    cluster.backdate(job, LONG_AGO_S)


@pytest.mark.parametrize(
    ("fault", "kind", "says"),
    [
        (image_pull_backoff, "image_pull",
         ["the image optio-runner:test could not be pulled (ImagePullBackOff", "check the image name"]),
        (err_image_pull, "image_pull", ["could not be pulled (ErrImagePull", "check the image name"]),
        (unschedulable, "unschedulable",
         ["no node could take the agent's pod", "3 Insufficient memory",
          "lower the repo's resource requests or add capacity"]),
    ],
    ids=["ImagePullBackOff", "ErrImagePull", "unschedulable"],
)
def test_image_pull_and_unschedulable(cluster: FaultyCluster, tmp_path: Path,
                                      fault: Callable[[FaultyCluster, str], None], kind: str,
                                      says: list[str]) -> None:
    from chalicelib.launch.k8s_job import job_name
    from chalicelib.store import executions

    task_id = new_repo_task("queued", maxRetries=3)
    free = slots_of(task_id)
    take_slot(task_id)
    launched = reconcile_on_cluster(cluster, tmp_path, task_id)
    assert launched.errors == [] and launched.first_decisions() == ["Launch"], launched.taken
    job = job_name(task_id, 1)

    fault(cluster, job)
    failed = reconcile_on_cluster(cluster, tmp_path, task_id)

    assert failed.errors == []
    [steps] = failed.taken
    assert [step for step, _ in steps] == ["Transition", "Noop"], steps
    assert steps[1][1] == "failed; no automatic retry left"
    row = executions.get(task_id)
    assert (row.state, row.errorKind, row.retryable, int(row.retryCount or 0)) == ("failed", kind, False, 0)
    for words in says:
        assert words in str(row.errorMessage), row.errorMessage
    # The pod that could not start holds no node: its Job is deleted with it.
    assert cluster.job(job) is None and cluster.pods_of(job) == []
    assert slots_of(task_id) == free

    # Not retried, however often the resync looks: three retries left, none used.
    again = reconcile_on_cluster(cluster, tmp_path, task_id)
    assert again.errors == [] and again.taken == [[["Noop", "failed; no automatic retry left"]]], again.taken
    assert states_of(task_id) == ["queued", "provisioning", "failed"]
    assert len(cluster.answered("POST", r"/jobs$")) == 1
    assert slots_of(task_id) == free
    put_away(task_id)
