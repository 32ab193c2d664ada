"""Warm pools on EKS, on the Kubernetes stand-in: the engine (in a process whose launcher is the
Kubernetes launcher, `engine_on_a_cluster`) keeps a repository's warm runners as Jobs of their
own, hands a launching attempt to an idle one instead of creating the attempt's Job, refills the
pool, replaces a dead runner and reclaims idle ones when the pool shrinks; the runner learns the
attempt's token and secrets only from its claim."""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tests.faults.engine_on_a_cluster import FaultyCluster, engine_env, put_away, take_slot

pytestmark = [pytest.mark.xdist_group("in-process"), pytest.mark.usefixtures("engine_tables")]

ENGINE = """
import json, sys, threading
from chalicelib.engine import executor, warm_pools

what, args = sys.argv[1], json.loads(sys.argv[2])
if what == "refill":
    print("RESULT " + json.dumps([type(a).__name__ for a in warm_pools.refill(args)]))
else:
    start, taken = threading.Barrier(len(args)), {}
    def reconcile(execution_id):
        start.wait()
        taken[execution_id] = [type(a).__name__ for a in executor.reconcile(execution_id)]
    threads = [threading.Thread(target=reconcile, args=(i,)) for i in args]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print("RESULT " + json.dumps(taken))
"""


def on_cluster(cluster: FaultyCluster, tmp: Path, what: str, args: Any) -> Any:
    done = subprocess.run([sys.executable, "-c", ENGINE, what, json.dumps(args)], cwd=REPO_ROOT,
                          env=engine_env(cluster, tmp), capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    [line] = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    return json.loads(line.removeprefix("RESULT "))


def warm_jobs(cluster: FaultyCluster) -> dict[str, dict[str, Any]]:
    """Pod id -> Job of every warm runner on the cluster."""
    with cluster.lock:
        jobs = [job for (_, name), job in cluster.jobs.items() if name.startswith("optio-warm-")]
    return {job["spec"]["template"]["metadata"]["labels"]["optio.dev/warm-pod"]: job for job in jobs}


def env_of(job: dict[str, Any]) -> dict[str, Any]:
    [container] = job["spec"]["template"]["spec"]["containers"]
    return {var["name"]: var.get("value", var.get("valueFrom")) for var in container["env"]}


def new_task(repo_id: str, repo_url: str) -> str:
    from chalicelib.core.naming import branch_name
    from chalicelib.store import executions

    task_id = str(uuid.uuid4())
    executions.create({
        "id": task_id, "type": "repo-task", "state": "queued", "title": "Warm", "prompt": "write it",
        "repoId": repo_id, "repoUrl": repo_url, "repoBranch": "main", "agentType": "claude-code",
        "branchName": branch_name("Warm", task_id), "maxRetries": 3,
    }, datetime.now(UTC))
    return task_id


def test_a_warm_pod_adopts_the_next_attempt_and_the_pool_refills_shrinks_and_heals(
        cluster: FaultyCluster, tmp_path: Path) -> None:
    from chalicelib.core.states import ExecutionKind
    from chalicelib.core.warm_pools import pool_key
    from chalicelib.exceptions import Unauthorized
    from chalicelib.launch.k8s_job import job_name, warm_job_name
    from chalicelib.services import runner_channel
    from chalicelib.services import warm_pods as claims
    from chalicelib.services.repos import register_repo, update_repo
    from chalicelib.store import executions, secrets, warm_pods

    secret_name = f"WARM_{uuid.uuid4().hex[:8].upper()}"
    secrets.put(secret_name, "s3cr3t-value", datetime.now(UTC))
    repo = register_repo({"repoUrl": f"https://github.com/acme/warm-{uuid.uuid4().hex[:10]}",
                          "maxConcurrentTasks": 5, "warmPoolSize": 2, "environment": {"secrets": [secret_name]}})
    pool = pool_key(ExecutionKind.REPO_TASK, repo.id)
    tasks: list[str] = []
    try:
        # 1. Two warm runners, each a Job of its own: a token for its pool, nothing of any execution.
        assert on_cluster(cluster, tmp_path, "refill", pool) == ["StartPods"]
        waiting = warm_jobs(cluster)
        assert len(waiting) == 2
        for pod_id, job in waiting.items():
            env = env_of(job)
            assert env["OPTIO_WARM_POD"] == pod_id and env["OPTIO_WARM_TOKEN"].startswith("optio_warm_")
            assert not {"OPTIO_RUN_TOKEN", "OPTIO_TASK_ID", secret_name} & set(env)
            assert "s3cr3t-value" not in json.dumps(job)
            assert "activeDeadlineSeconds" not in job["spec"]
            cluster.run_pod(warm_job_name(pod_id))
        assert on_cluster(cluster, tmp_path, "refill", pool) == []
        # Idle, a runner's claim learns nothing; a token of another runner is refused.
        first, second = sorted(waiting, key=lambda p: str(warm_pods.find(p).createdAt))  # type: ignore[union-attr]
        assert claims.claim(first, env_of(waiting[first])["OPTIO_WARM_TOKEN"]) == {"assigned": False}
        with pytest.raises(Unauthorized):
            claims.claim(first, env_of(waiting[second])["OPTIO_WARM_TOKEN"])

        # 2. Three attempts launch at once with two idle runners: each runner takes one, the third
        # gets a Job of its own, and the pool refills.
        tasks = [new_task(repo.id, repo.repoUrl) for _ in range(3)]
        for task_id in tasks:
            take_slot(task_id)
        decided = on_cluster(cluster, tmp_path, "reconcile", tasks)
        assert all(steps[0] == "Launch" for steps in decided.values()), decided
        rows = {task_id: executions.get(task_id) for task_id in tasks}
        adopted = {row.warmPod: task_id for task_id, row in rows.items() if row.warmPod}
        assert set(adopted) == {first, second}
        [cold] = [task_id for task_id, row in rows.items() if not row.warmPod]
        assert cluster.job(job_name(cold, 1)) is not None
        assert all(cluster.job(job_name(adopted[pod], 1)) is None for pod in adopted)
        assert all(rows[t].launchedAt for t in tasks)
        # Two refills at once may each start what the pool lacked: the next one stops the extra.
        assert len(set(warm_jobs(cluster)) - {first, second}) >= 2
        on_cluster(cluster, tmp_path, "refill", pool)
        refilled = set(warm_jobs(cluster)) - {first, second}
        assert len(refilled) == 2
        assert {p.id for p in warm_pods.of_pool(pool) if p.state == "idle"} == refilled

        # 3. The claim gives the attempt's input, its run token and its secrets, once.
        task_id = adopted[first]
        answer = claims.claim(first, env_of(waiting[first])["OPTIO_WARM_TOKEN"])
        assert answer["assigned"] is True and answer["executionId"] == task_id and answer["attempt"] == 1
        assert answer["environment"]["OPTIO_TASK_ID"] == task_id
        assert answer["secrets"] == {secret_name: "s3cr3t-value"}
        assert claims.claim(first, env_of(waiting[first])["OPTIO_WARM_TOKEN"]) == {"assigned": False}
        runner_channel.handle(ExecutionKind.REPO_TASK, task_id, answer["environment"]["OPTIO_RUN_TOKEN"],
                              {"kind": "started", "attempt": 1})
        assert executions.get(task_id).state == "running"

        # 4. The adopting pod dies: its attempt fails from what its own Job says.
        cluster.fail_pod(warm_job_name(first), exit_code=137, reason="Error")
        on_cluster(cluster, tmp_path, "reconcile", [task_id])
        failed = executions.get(task_id)
        assert (failed.state, failed.errorKind) == ("failed", "crash"), (failed.state, failed.errorMessage)
        assert first not in warm_jobs(cluster)  # stopped with its attempt, as an attempt's Job is

        # 5. An idle runner that dies is replaced.
        dead = sorted(refilled)[0]
        cluster.fail_pod(warm_job_name(dead))
        assert sorted(on_cluster(cluster, tmp_path, "refill", pool)) == ["ForgetPod", "StartPods", "StopPod"]
        assert dead not in warm_jobs(cluster) and warm_pods.find(dead) is None
        idle = [p.id for p in warm_pods.of_pool(pool) if p.state == "idle"]
        assert len(idle) == 2

        # 6. Shrunk to 0, the idle runners are stopped; the one still working on an attempt stays.
        update_repo(repo.id, {"warmPoolSize": 0})
        on_cluster(cluster, tmp_path, "refill", pool)
        assert set(warm_jobs(cluster)) == {second}
        assert [p.id for p in warm_pods.of_pool(pool)] == [second]
    finally:
        for task_id in tasks:
            put_away(task_id)
        # Every agent of the other tests would get it (they list no secrets).
        secrets.delete(secret_name)


def test_on_eks_an_attempt_with_a_restricted_network_gets_its_own_job(cluster: FaultyCluster, tmp_path: Path) -> None:
    """Its NetworkPolicy selects its own Job's pod: a warm pod (on the namespace's default) would
    give its agent more network than the repository allows."""
    from chalicelib.core.states import ExecutionKind
    from chalicelib.core.warm_pools import pool_key
    from chalicelib.launch.k8s_job import job_name, warm_job_name
    from chalicelib.services.repos import register_repo, update_repo
    from chalicelib.store import executions, warm_pods

    repo = register_repo({"repoUrl": f"https://github.com/acme/warm-{uuid.uuid4().hex[:10]}",
                          "warmPoolSize": 1, "environment": {"network": "none"}})
    pool = pool_key(ExecutionKind.REPO_TASK, repo.id)
    task_id = new_task(repo.id, repo.repoUrl)
    try:
        on_cluster(cluster, tmp_path, "refill", pool)
        [pod_id] = warm_jobs(cluster)
        cluster.run_pod(warm_job_name(pod_id))
        take_slot(task_id)
        on_cluster(cluster, tmp_path, "reconcile", [task_id])
        assert executions.get(task_id).warmPod is None
        assert cluster.job(job_name(task_id, 1)) is not None
        assert cluster.network_policy(job_name(task_id, 1)) is not None
        assert [p.state for p in warm_pods.of_pool(pool)] == ["idle"]
    finally:
        put_away(task_id)
        update_repo(repo.id, {"warmPoolSize": 0})
        on_cluster(cluster, tmp_path, "refill", pool)


def test_an_attempt_handed_to_a_warm_pod_meanwhile_gets_no_job_too(cluster: FaultyCluster, tmp_path: Path) -> None:
    """Two reconcilers on the same version: the other hands the attempt to the pool's only runner
    after this one read the row and before it looked for an idle runner. Finding none, this one
    must not launch a Job for it as well (two runners of one attempt): it reads the row again and
    decides again."""
    from chalicelib.core.states import ExecutionKind
    from chalicelib.core.warm_pools import pool_key
    from chalicelib.launch.k8s_job import job_name, warm_job_name
    from chalicelib.services.repos import register_repo, update_repo
    from chalicelib.store import executions, warm_pods

    repo = register_repo({"repoUrl": f"https://github.com/acme/warm-{uuid.uuid4().hex[:10]}", "warmPoolSize": 1})
    pool = pool_key(ExecutionKind.REPO_TASK, repo.id)
    task_id = new_task(repo.id, repo.repoUrl)
    try:
        on_cluster(cluster, tmp_path, "refill", pool)
        [pod_id] = warm_jobs(cluster)
        cluster.run_pod(warm_job_name(pod_id))
        take_slot(task_id)

        def other_reconciler() -> None:
            pod = warm_pods.find(pod_id)
            assert pod is not None
            warm_pods.assign(executions.get(task_id), pod, {"executionId": task_id, "attempt": 1}, datetime.now(UTC))

        # The reconciler reads the row, then the attempt's Job (none yet): the other hands it over then.
        cluster.meanwhile = ("GET", rf"/jobs/{job_name(task_id, 1)}$", other_reconciler)
        decided = on_cluster(cluster, tmp_path, "reconcile", [task_id])
        assert cluster.meanwhile is None, "the other reconciler did not run"
        assert executions.get(task_id).warmPod == pod_id
        assert cluster.job(job_name(task_id, 1)) is None, decided
    finally:
        put_away(task_id)
        update_repo(repo.id, {"warmPoolSize": 0})
        on_cluster(cluster, tmp_path, "refill", pool)
