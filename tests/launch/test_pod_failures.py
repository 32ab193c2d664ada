"""Each way a pod fails on Kubernetes, from the cluster's own objects to the PodStatus the
launcher reads, and through the reconciler's decision to the task's state, reason and retry."""
from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chalicelib.core import reconcile as core
from chalicelib.core.failures import FailureKind, Retry
from chalicelib.core.reconcile import PodPhase, PodStatus
from chalicelib.core.states import ExecutionKind, State
from chalicelib.launch import LaunchSpec, Resources
from chalicelib.launch.k8s_job import job_name
from chalicelib.launch.kubernetes import KubernetesLauncher
from tests.fakes.kubernetes_api import FakeKubernetes

from .support import JOBS, kubernetes_launcher

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LIMITS = core.Limits(stall_threshold=timedelta(minutes=15), provision_timeout=timedelta(minutes=10))


def launched(launcher: KubernetesLauncher, resources: Resources | None = None) -> tuple[str, str]:
    task_id = str(uuid.uuid4())
    launcher.launch(LaunchSpec(execution_id=task_id, attempt=1, environment={"OPTIO_TASK_ID": task_id},
                               resources=resources or Resources()))
    return task_id, job_name(task_id, 1)


def task(state: State, **changes: object) -> core.ExecutionView:
    view = core.ExecutionView(id="t", kind=ExecutionKind.REPO_TASK, state=state, version=3, attempt=1, retry_count=0, max_retries=3,
                         created_at=NOW, updated_at=NOW, started_at=NOW, launched_at=NOW,
                         last_heartbeat_at=NOW)
    return dataclasses.replace(view, **changes)  # type: ignore[arg-type]


def decide(state: State, pod: PodStatus, **changes: object) -> core.Action:
    return core.decide(core.Snapshot(execution=task(state, **changes), pod=pod, limits=LIMITS), NOW)


def failed_with(action: core.Action, kind: str) -> core.Transition:
    assert isinstance(action, core.Transition), action
    assert action.to is State.FAILED
    assert action.changes["errorKind"] == kind
    return action


def test_oom_killed(k8s: KubernetesLauncher, cluster: FakeKubernetes) -> None:
    task_id, name = launched(k8s, Resources(memory_limit="6Gi"))
    cluster.run_pod(name)
    cluster.oom_kill_pod(name)

    status = k8s.status(task_id, 1)

    assert (status.phase, status.reason, FailureKind("oom_killed").retryable) == (PodPhase.FAILED, "oom_killed", True)
    assert status.message == ("the agent ran out of memory (limit 6Gi): raise the memory limit in the "
                              "repo's or standalone task's resources")
    action = failed_with(decide(State.RUNNING, status), "oom_killed")
    assert action.changes["errorMessage"] == status.message and action.changes["retryable"] is True
    assert decide(State.FAILED, status, completed_at=NOW - timedelta(minutes=1)) == core.Transition(
        to=State.QUEUED, reason="automatic retry 1 of 3", changes={"retryCount": 1})


@pytest.mark.parametrize("reason", ["ImagePullBackOff", "ErrImagePull", "InvalidImageName"])
def test_image_pull_is_not_retried(k8s: KubernetesLauncher, cluster: FakeKubernetes, reason: str) -> None:
    task_id, name = launched(k8s)
    cluster.image_pull_backoff(name, reason=reason)

    status = k8s.status(task_id, 1)

    assert (status.phase, status.reason, FailureKind("image_pull").retryable) == (PodPhase.FAILED, "image_pull", False)
    assert status.message is not None
    assert status.message.startswith(f"the image optio-runner:test could not be pulled ({reason}: Back-off")
    assert status.message.endswith("check the image name and that the cluster's nodes may pull it")
    action = failed_with(decide(State.PROVISIONING, status), "image_pull")
    assert action.changes["retryable"] is False
    assert decide(State.FAILED, status, retryable=False) == core.Noop("failed; no automatic retry left")


def test_evicted_is_retried_for_free(k8s: KubernetesLauncher, cluster: FakeKubernetes) -> None:
    task_id, name = launched(k8s)
    cluster.run_pod(name)
    cluster.evict_pod(name)

    status = k8s.status(task_id, 1)

    assert (status.phase, status.reason, FailureKind("evicted").retry) == (PodPhase.FAILED, "evicted", Retry.FREE)
    assert status.message is not None and "The node was low on resource: memory" in status.message
    action = failed_with(decide(State.RUNNING, status), "evicted")
    assert action.changes["freeRetry"] is True
    # Even with every retry used up, an eviction is retried at once, and the count stays.
    again = decide(State.FAILED, status, retry_count=3, free_retry=True)
    assert isinstance(again, core.Transition) and again.to is State.QUEUED
    assert "retryCount" not in again.changes


def test_a_disruption_target_counts_as_eviction_before_the_pod_is_gone(cluster: FakeKubernetes,
                                                                       k8s: KubernetesLauncher) -> None:
    task_id, name = launched(k8s)
    cluster.run_pod(name)
    with cluster.lock:
        [pod] = [p for p in cluster.pods.values() if p["metadata"]["labels"]["job-name"] == name]
        pod["status"]["conditions"].append({"type": "DisruptionTarget", "status": "True",
                                            "reason": "PreemptionByScheduler",
                                            "message": "Preempted by a pod with higher priority"})

    status = k8s.status(task_id, 1)

    assert (status.phase, status.reason, FailureKind("evicted").retry) == (PodPhase.FAILED, "evicted", Retry.FREE)
    assert status.message is not None and "Preempted by a pod with higher priority" in status.message


@pytest.mark.parametrize("state", [State.PROVISIONING, State.RUNNING])
def test_deleted_pod_is_gone(k8s: KubernetesLauncher, cluster: FakeKubernetes, state: State) -> None:
    task_id, name = launched(k8s)
    cluster.run_pod(name)
    cluster.delete_pod(name)

    status = k8s.status(task_id, 1)

    assert (status.phase, status.reason) == (PodPhase.NOT_FOUND, "pod_gone")
    action = failed_with(decide(state, status), "pod_gone")
    where = "before it started" if state is State.PROVISIONING else "while it ran"
    assert action.reason == f"the agent's pod disappeared {where}"
    assert action.changes["retryable"] is True


def test_deleted_job_is_gone(k8s: KubernetesLauncher, cluster: FakeKubernetes) -> None:
    task_id, name = launched(k8s)
    cluster.run_pod(name)
    with cluster.lock:
        del cluster.jobs[("optio", name)]

    status = k8s.status(task_id, 1)

    assert (status.phase, status.reason) == (PodPhase.NOT_FOUND, "pod_gone")
    failed_with(decide(State.RUNNING, status), "pod_gone")


def test_deadline_exceeded(k8s: KubernetesLauncher, cluster: FakeKubernetes) -> None:
    task_id, name = launched(k8s)
    cluster.run_pod(name)
    cluster.exceed_deadline(name)

    status = k8s.status(task_id, 1)

    assert (status.phase, status.reason, FailureKind("deadline_exceeded").retryable) == (PodPhase.FAILED, "deadline_exceeded", True)
    assert status.message == ("the agent ran longer than the Job deadline of 3600 s: raise "
                              "OPTIO_JOB_DEADLINE_S or split the task into smaller ones")
    failed_with(decide(State.RUNNING, status), "deadline_exceeded")


def test_unschedulable_after_the_schedule_timeout(k8s: KubernetesLauncher, cluster: FakeKubernetes) -> None:
    task_id, name = launched(k8s)
    cluster.unschedulable_pod(name)
    assert k8s.status(task_id, 1).phase is PodPhase.PENDING  # the autoscaler may still add a node

    cluster.backdate(name, JOBS.schedule_timeout_s + 1)
    status = k8s.status(task_id, 1)

    assert (status.phase, status.reason, FailureKind("unschedulable").retryable) == (PodPhase.FAILED, "unschedulable", False)
    assert status.message is not None and "0/3 nodes are available: 3 Insufficient memory" in status.message
    assert "lower the repo's resource requests or add capacity" in status.message
    action = failed_with(decide(State.PROVISIONING, status), "unschedulable")
    assert action.changes["retryable"] is False


def test_a_slow_image_pull_is_not_unschedulable(k8s: KubernetesLauncher, cluster: FakeKubernetes) -> None:
    task_id, name = launched(k8s)
    with cluster.lock:
        [pod] = [p for p in cluster.pods.values() if p["metadata"]["labels"]["job-name"] == name]
        pod["status"]["conditions"] = [{"type": "PodScheduled", "status": "True"}]
        pod["status"]["containerStatuses"] = [{"name": "runner", "state": {"waiting": {"reason": "ContainerCreating"}}}]
    cluster.backdate(name, JOBS.schedule_timeout_s + 1)

    assert k8s.status(task_id, 1) == PodStatus(PodPhase.PENDING)


def test_a_job_that_never_gets_a_pod_is_unschedulable(k8s: KubernetesLauncher, cluster: FakeKubernetes) -> None:
    task_id, name = launched(k8s)
    with cluster.lock:
        cluster.pods.clear()  # e.g. a ResourceQuota refused it
    assert k8s.status(task_id, 1).phase is PodPhase.PENDING

    cluster.backdate(name, JOBS.schedule_timeout_s + 1)
    status = k8s.status(task_id, 1)

    assert (status.phase, status.reason, FailureKind("unschedulable").retryable) == (PodPhase.FAILED, "unschedulable", False)


def test_missing_secret_key_is_not_retried(k8s: KubernetesLauncher, cluster: FakeKubernetes) -> None:
    task_id, name = launched(k8s)
    cluster.missing_secret_key(name, "OPENAI_API_KEY")

    status = k8s.status(task_id, 1)

    assert (status.phase, status.reason, FailureKind("config_error").retryable) == (PodPhase.FAILED, "config_error", False)
    assert status.message is not None and "couldn't find key OPENAI_API_KEY" in status.message
    assert f"in Secret optio/{name}" in status.message


def test_crash_with_exit_code(k8s: KubernetesLauncher, cluster: FakeKubernetes) -> None:
    task_id, name = launched(k8s)
    cluster.run_pod(name)
    cluster.fail_pod(name, exit_code=2)

    status = k8s.status(task_id, 1)

    assert status == PodStatus(PodPhase.FAILED, "crash", "the agent's runner exited with code 2: see the task's logs")
    action = failed_with(decide(State.RUNNING, status), "crash")
    assert action.reason == status.message


def test_success_without_a_report_fails_the_task(k8s: KubernetesLauncher, cluster: FakeKubernetes) -> None:
    task_id, name = launched(k8s)
    cluster.run_pod(name)
    cluster.succeed_pod(name)

    status = k8s.status(task_id, 1)

    assert status == PodStatus(PodPhase.SUCCEEDED)
    failed_with(decide(State.RUNNING, status), "no_result")


def test_a_cancelled_task_stops_a_live_pod_and_rests_once_it_is_gone(k8s: KubernetesLauncher,
                                                                     cluster: FakeKubernetes) -> None:
    task_id, name = launched(k8s)
    cluster.run_pod(name)

    assert decide(State.CANCELLED, k8s.status(task_id, 1)) == core.StopAgent(
        1, "task is cancelled; stopping its agent")
    k8s.cancel(task_id, 1)

    [delete] = cluster.made("DELETE", name)
    assert delete.body is not None and delete.body["propagationPolicy"] == "Foreground"
    assert isinstance(decide(State.CANCELLED, k8s.status(task_id, 1)), core.Noop)


def test_namespace_and_server_errors_are_raised(kubeconfig: Path, cluster: FakeKubernetes) -> None:
    from kubernetes.client import ApiException

    elsewhere = kubernetes_launcher(kubeconfig, dataclasses.replace(JOBS, namespace="missing"))
    with pytest.raises(ApiException) as raised:
        elsewhere.launch(LaunchSpec(execution_id=str(uuid.uuid4()), attempt=1, environment={}))
    assert raised.value.status == 404
