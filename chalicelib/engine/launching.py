"""The launcher Lambda's work: create the Job of one attempt from the LaunchSpec the engine sent,
or delete an attempt's Job when the engine stops its agent (a person's cancel in the API, a
failure the reconciler saw); the launcher is the one function besides the reconciler's that
talks to the cluster, so the API needs no kubernetes client.

Invoked asynchronously, so Lambda may deliver an event twice or retry it after an error; the
Job's deterministic name makes every repeated launch a harmless 409 and every repeated stop a
harmless 404. An event Lambda gives up on (every retry failed, or it waited in the queue past its
maximum age) goes to the launcher's on-failure destination, the timer function, as an invocation
record (`failed_launch` reads it; a stop's record fails nothing: its attempt waits for no launch).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.launch import LaunchSpec, cluster_launcher
from chalicelib.launch.base import WarmPodSpec, stop_of
from chalicelib.observability import logger
from chalicelib.store import secrets

if TYPE_CHECKING:  # every function imports app, hence this module: the cluster's code loads on use
    from chalicelib.launch.kubernetes import KubernetesLauncher


def handle(payload: Mapping[str, Any], launcher: KubernetesLauncher | None = None) -> dict[str, Any]:
    """`launcher`: the cluster to launch on or stop in; the one the settings describe unless given.
    The event is an attempt's LaunchSpec, a stop, or a warm runner's WarmPodSpec (`{"warmPod": ...}`)."""
    cluster = launcher or cluster_launcher()
    if "warmPod" in payload:
        warm = WarmPodSpec.from_payload(payload)
        logger.info("starting warm runner", extra={"pod": warm.pod_id, "pool": warm.pool})
        cluster.start_warm(warm)
        return {"warmPod": warm.pod_id, "launched": True}
    stop = stop_of(payload)
    if stop is not None:
        execution_id, attempt = stop
        logger.info("stopping agent", extra={"executionId": execution_id, "attempt": attempt})
        cluster.cancel(execution_id, attempt)
        return {"executionId": execution_id, "attempt": attempt, "stopped": True}
    spec = LaunchSpec.from_payload(payload, secrets.unseal)
    logger.info("launching agent", extra={"executionId": spec.execution_id, "attempt": spec.attempt})
    cluster.launch(spec)
    return {"executionId": spec.execution_id, "attempt": spec.attempt, "launched": True}


@dataclass(frozen=True)
class FailedLaunch:
    execution_id: str
    attempt: int
    why: str


def failed_launch(event: Any) -> FailedLaunch | None:
    """The launch in a Lambda destination record (`requestContext.condition`: RetriesExhausted or
    EventAgeExceeded; the launch event in `requestPayload`, the last error in `responsePayload`),
    or None when the event is not one (a wake-up) or was no launch of an attempt: a stop (its
    attempt waits for no launch) or a warm runner's start (the resync refills the pool)."""
    if not isinstance(event, dict) or not isinstance(event.get("requestContext"), dict):
        return None
    payload = event.get("requestPayload")
    if isinstance(payload, dict) and ("warmPod" in payload or stop_of(payload) is not None):
        logger.warning("the launcher gave up on an event", extra={
            "condition": event["requestContext"].get("condition"), "stop": "warmPod" not in payload})
        return None
    if not isinstance(payload, dict) or not payload.get("executionId") or "attempt" not in payload:
        raise ValueError("a launcher's destination record carries its launch event in requestPayload: "
                         f"{sorted(event)}")
    condition = str(event["requestContext"].get("condition") or "unknown")
    response = event.get("responsePayload")
    error: dict[str, Any] = response if isinstance(response, dict) else {}
    if condition == "EventAgeExceeded":
        why = "the launch waited in Lambda's queue past its maximum age and was dropped"
    else:
        tries = event["requestContext"].get("approximateInvokeCount")
        why = (f"the launcher failed {tries} times ({condition}): "
               f"{error.get('errorType', 'error')}: {error.get('errorMessage', 'no message')}")
    return FailedLaunch(str(payload["executionId"]), int(payload["attempt"]), why[:1000])
