"""Reading an attempt's Job and pod (API JSON) as the reconciler's `PodStatus`, pure.

Each failure carries a reason the task records (`errorKind`) and a one-line message that tells
the user what happened and what to do about it. Failures a retry cannot fix (a bad image, a pod
no node can hold, a missing secret key) are not retried; an eviction is the platform's doing, so
it is retried without using up the task's retries.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from chalicelib.core.reconcile import PodPhase, PodStatus

from .k8s_job import CONTAINER, JobSettings

Json = Mapping[str, Any]
IMAGE_PULL = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"})
CONFIG_ERRORS = frozenset({"CreateContainerConfigError", "CreateContainerError"})
DEADLINE_REASONS = frozenset({"DeadlineExceeded"})

RUNNING = PodStatus(PodPhase.RUNNING)
PENDING = PodStatus(PodPhase.PENDING)
SUCCEEDED = PodStatus(PodPhase.SUCCEEDED)


def pod_status(job: Json | None, pods: Sequence[Json], now: datetime, settings: JobSettings) -> PodStatus:
    if job is None:
        return PodStatus(PodPhase.NOT_FOUND, "pod_gone",
                         "the agent's Job is gone from the cluster (deleted by someone, or expired)")
    if _get(job, "metadata", "deletionTimestamp"):
        return PodStatus(PodPhase.NOT_FOUND, "pod_gone", "the agent's Job is being deleted")
    failed = _condition(job, "Failed") or _condition(job, "FailureTarget")
    if failed is not None and failed.get("reason") in DEADLINE_REASONS:
        return PodStatus(
            PodPhase.FAILED, "deadline_exceeded",
            f"the agent ran longer than the Job deadline of {settings.deadline_s} s: "
            "raise OPTIO_JOB_DEADLINE_S or split the task into smaller ones",
        )
    pod = _newest(pods)
    if pod is not None:
        return _from_pod(pod, now, settings)
    if _condition(job, "Complete") is not None or _condition(job, "SuccessCriteriaMet") is not None:
        return SUCCEEDED
    if failed is not None or _count(_get(job, "status", "failed")) > 0:
        return PodStatus(PodPhase.NOT_FOUND, "pod_gone", "the agent's pod was deleted from the cluster")
    if _age(job, now) > settings.schedule_timeout_s:
        return PodStatus(
            PodPhase.FAILED, "unschedulable",
            f"the cluster created no pod for the agent's Job within {settings.schedule_timeout_s} s "
            "(a quota or admission policy?): check the Job's events with kubectl describe job",
        )
    return PENDING


def _from_pod(pod: Json, now: datetime, settings: JobSettings) -> PodStatus:
    status = pod.get("status") or {}
    disruption = _condition(pod, "DisruptionTarget")
    if status.get("reason") == "Evicted" or disruption is not None:
        why = status.get("message") or (disruption or {}).get("message") or (disruption or {}).get("reason")
        return PodStatus(
            PodPhase.FAILED, "evicted",
            f"the cluster evicted the agent's pod ({why or 'no reason given'}); "
            "it is retried without counting against maxRetries",
        )
    container = _container_status(status)
    terminated = _get(container, "state", "terminated") or _get(container, "lastState", "terminated")
    if terminated and terminated.get("reason") == "OOMKilled":
        limit = _memory_limit(pod) or "none"
        return PodStatus(
            PodPhase.FAILED, "oom_killed",
            f"the agent ran out of memory (limit {limit}): raise the memory limit in the repo's "
            "or standalone task's resources",
        )
    waiting = _get(container, "state", "waiting") or {}
    if waiting.get("reason") in IMAGE_PULL:
        image = _get(container, "image") or _runner(pod).get("image")
        detail = waiting["reason"] + (f": {waiting['message']}" if waiting.get("message") else "")
        return PodStatus(
            PodPhase.FAILED, "image_pull",
            f"the image {image} could not be pulled ({detail}): check the image name and that the "
            "cluster's nodes may pull it",
        )
    if waiting.get("reason") in CONFIG_ERRORS:
        return PodStatus(
            PodPhase.FAILED, "config_error",
            f"the agent's container could not be created ({waiting.get('message') or waiting['reason']}) "
            f"in namespace {settings.namespace}",
        )
    phase = status.get("phase")
    if phase == "Pending":
        scheduled = _condition(pod, "PodScheduled")
        if scheduled is None and _age(pod, now) > settings.schedule_timeout_s:
            why = _unscheduled_reason(pod)
            return PodStatus(
                PodPhase.FAILED, "unschedulable",
                f"no node could take the agent's pod within {settings.schedule_timeout_s} s ({why}): "
                "lower the repo's resource requests or add capacity to the cluster",
            )
        return PENDING
    if phase == "Succeeded":
        return SUCCEEDED
    if phase == "Failed":
        return _crash(terminated or {}, status)
    # Running, or Unknown (its node stopped reporting): alive as far as we know; heartbeats decide.
    return RUNNING


def _crash(terminated: Json, status: Json) -> PodStatus:
    code = terminated.get("exitCode")
    reason = terminated.get("reason") or status.get("reason")
    detail = f" ({reason})" if reason and reason != "Error" else ""
    what = f"exited with code {code}{detail}" if code is not None else f"failed{detail}"
    return PodStatus(PodPhase.FAILED, "crash", f"the agent's runner {what}: see the task's logs")


def _unscheduled_reason(pod: Json) -> str:
    for condition in _get(pod, "status", "conditions") or []:
        if condition.get("type") == "PodScheduled":
            return str(condition.get("message") or condition.get("reason") or "not scheduled")
    return "not scheduled"


def _condition(obj: Json, kind: str) -> Json | None:
    """The object's condition of that type, if it is currently true."""
    for condition in _get(obj, "status", "conditions") or []:
        if condition.get("type") == kind and condition.get("status") == "True":
            return condition  # type: ignore[no-any-return]
    return None


def _container_status(status: Json) -> Json:
    statuses = status.get("containerStatuses") or []
    return next((s for s in statuses if s.get("name") == CONTAINER), statuses[0] if statuses else {})


def _runner(pod: Json) -> Json:
    containers = _get(pod, "spec", "containers") or []
    return next((c for c in containers if c.get("name") == CONTAINER), containers[0] if containers else {})


def _memory_limit(pod: Json) -> str | None:
    return _get(_runner(pod), "resources", "limits", "memory")  # type: ignore[no-any-return]


def _newest(pods: Sequence[Json]) -> Json | None:
    return max(pods, key=lambda pod: str(_get(pod, "metadata", "creationTimestamp") or ""), default=None)


def _age(obj: Json, now: datetime) -> float:
    created = _get(obj, "metadata", "creationTimestamp")
    if not created:
        return 0.0
    return (now - datetime.fromisoformat(str(created).replace("Z", "+00:00"))).total_seconds()


def _count(value: object) -> int:
    return value if isinstance(value, int) else 0


def _get(obj: Json | None, *path: str) -> Any:
    value: Any = obj
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value
