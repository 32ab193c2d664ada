"""Warm runners as each launcher keeps them (`start_warm`, `warm_status`, `stop_warm`, `wake_warm`),
by pod id: idempotent like an attempt's calls; locally a process, on the Kubernetes stand-in a Job
of its own that holds no secret and has no deadline."""
from __future__ import annotations

import uuid

from chalicelib.core.reconcile import PodPhase
from chalicelib.launch.base import WarmPodSpec
from chalicelib.launch.k8s_job import warm_job_name
from chalicelib.launch.kubernetes import KubernetesLauncher
from tests.fakes.kubernetes_api import FakeKubernetes
from tests.support.waiting import wait_for

from .support import LocalHarness


def spec() -> WarmPodSpec:
    pod_id = uuid.uuid4().hex[:16]
    return WarmPodSpec(pod_id, f"repo#{uuid.uuid4()}", {"OPTIO_WARM_POD": pod_id, "OPTIO_WARM_TOKEN": "optio_warm_x",
                                                        "OPTIO_API_URL": "http://127.0.0.1:9"})


def test_a_local_warm_runner_is_a_process_a_wake_up_does_not_kill(local: LocalHarness) -> None:
    given = spec()
    local.launcher.start_warm(given)
    local.launcher.start_warm(given)
    name = f"warm-{given.pod_id}"
    wait_for(lambda: (local.work_dir / f"{name}.starts").exists(), what="the warm runner to start")
    assert local.launcher.warm_status(given.pod_id).phase is PodPhase.RUNNING
    assert len((local.work_dir / f"{name}.starts").read_text().splitlines()) == 1
    assert local.launcher.warm_status("nobody").phase is PodPhase.NOT_FOUND
    # The stand-in does not listen for the wake-up: ignored by default, it is still running.
    local.launcher.wake_warm(given.pod_id)
    assert local.launcher.warm_status(given.pod_id).phase is PodPhase.RUNNING

    local.launcher.stop_warm(given.pod_id)
    local.launcher.stop_warm("nobody")
    assert local.launcher.warm_status(given.pod_id).phase is PodPhase.FAILED
    wait_for(lambda: not (local.work_dir / name).exists(), what="the warm runner's workspace to be removed")


def test_a_warm_pod_is_a_job_of_its_own_without_secrets_or_deadline(cluster: FakeKubernetes,
                                                                    k8s: KubernetesLauncher) -> None:
    given = spec()
    k8s.start_warm(given)
    k8s.start_warm(given)  # a repeated delivery: AlreadyExists is success
    name = warm_job_name(given.pod_id)
    job = cluster.job(name)
    assert job is not None
    assert "activeDeadlineSeconds" not in job["spec"]
    template = job["spec"]["template"]
    assert template["metadata"]["labels"]["optio.dev/warm-pod"] == given.pod_id
    [container] = template["spec"]["containers"]
    assert {e["name"] for e in container["env"]} == {*given.environment, "OPTIO_WORKSPACE"}
    assert all("valueFrom" not in e for e in container["env"])
    assert cluster.secret(name) is None
    assert k8s.warm_status(given.pod_id).phase is PodPhase.PENDING
    cluster.run_pod(name)
    assert k8s.warm_status(given.pod_id).phase is PodPhase.RUNNING
    k8s.wake_warm(given.pod_id)  # nothing on a cluster: the pod's next ask finds its attempt

    k8s.stop_warm(given.pod_id)
    k8s.stop_warm(given.pod_id)  # gone already: success
    assert k8s.warm_status(given.pod_id).phase is PodPhase.NOT_FOUND
