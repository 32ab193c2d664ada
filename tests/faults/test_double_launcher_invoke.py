"""Fault: the launcher Lambda gets the same launch twice (an asynchronous invoke is delivered at
least once, and retried after an error), and the engine crashed between "Job created" and
"launchedAt written", so the resync finds a provisioning task that looks never launched. One Job
is made; the resync's launch adopts it (AlreadyExists) instead of failing the task or making a
second, and the task goes on to run on that Job's agent."""
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


def test_double_launcher_invoke(cluster: FaultyCluster, tmp_path: Path) -> None:
    import json

    from chalicelib.core.states import ExecutionKind
    from chalicelib.core.tokens import run_token
    from chalicelib.engine import launching
    from chalicelib.engine.credentials import run_token_secret
    from chalicelib.engine.executor import launch_input
    from chalicelib.launch.k8s_job import job_name
    from chalicelib.services import runner_channel
    from chalicelib.store import executions, secrets
    from tests.launch.support import kubernetes_launcher

    task_id = new_repo_task("queued")
    free = slots_of(task_id)
    take_slot(task_id)
    job = job_name(task_id, 1)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps(cluster.kubeconfig()))
    # The engine's launch of attempt 1, as the launcher Lambda receives it.
    payload = launch_input(executions.get(task_id), 1)[0].to_payload(secrets.seal)

    # Delivered twice, each to a fresh launcher (two Lambda invocations).
    first = launching.handle(json.loads(json.dumps(payload)), kubernetes_launcher(kubeconfig))
    second = launching.handle(json.loads(json.dumps(payload)), kubernetes_launcher(kubeconfig))
    assert first == second == {"executionId": task_id, "attempt": 1, "launched": True}
    assert sorted(cluster.answered("POST", r"/jobs$")) == [201, 409]
    assert cluster.job(job) is not None and len(cluster.pods_of(job)) == 1
    uid = cluster.job(job)["metadata"]["uid"]  # type: ignore[index]

    # The crash: the Job exists, `launchedAt` was never written. The resync reconciles the task.
    crashed = executions.get(task_id)
    assert (crashed.state, crashed.launchedAt) == ("provisioning", None)
    resynced = reconcile_on_cluster(cluster, tmp_path, task_id)
    assert resynced.errors == []
    [steps] = resynced.taken
    assert [kind for kind, _ in steps] == ["Launch", "WaitUntil"], steps
    # Adopted: the launch met the Job (AlreadyExists), made no second one, and is written down.
    assert sorted(cluster.answered("POST", r"/jobs$")) == [201, 409, 409]
    assert cluster.job(job)["metadata"]["uid"] == uid and len(cluster.pods_of(job)) == 1  # type: ignore[index]
    adopted = executions.get(task_id)
    assert adopted.state == "provisioning" and adopted.launchedAt and int(adopted.attempt) == 1

    # That Job's agent starts and reports: the task runs on it.
    cluster.run_pod(job)
    token = run_token(run_token_secret(), task_id, 1)
    runner_channel.handle(ExecutionKind.REPO_TASK, task_id, token, {"kind": "started", "attempt": 1})
    runner_channel.handle(ExecutionKind.REPO_TASK, task_id, token, {"kind": "heartbeat", "attempt": 1})
    running = reconcile_on_cluster(cluster, tmp_path, task_id)
    assert running.errors == [] and running.taken == [[["WaitUntil", "agent running; stalled if silent until then"]]], running.taken
    assert executions.get(task_id).state == "running"
    assert states_of(task_id) == ["queued", "provisioning", "running"]
    # Nothing lost, nothing doubled: one Job for the attempt, its slot held once.
    assert cluster.job(job)["metadata"]["uid"] == uid and len(cluster.pods_of(job)) == 1  # type: ignore[index]
    assert len(cluster.answered("POST", r"/jobs$")) == 3
    assert slots_of(task_id) == (free[0] + 1, free[1] + 1)
    put_away(task_id)
    assert slots_of(task_id) == free
