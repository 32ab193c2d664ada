"""The launcher Lambda's work: create the Job of one attempt from the LaunchSpec the engine sent.

Invoked asynchronously, so Lambda may deliver an event twice or retry it after an error; the
Job's deterministic name makes every repeat a harmless 409.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.launch import LaunchSpec, cluster_launcher
from chalicelib.launch.base import WarmPodSpec
from chalicelib.launch.kubernetes import KubernetesLauncher
from chalicelib.observability import logger
from chalicelib.store import secrets


def launch(payload: Mapping[str, Any], launcher: KubernetesLauncher | None = None) -> dict[str, Any]:
    """`launcher`: the cluster to launch on; the one the settings describe unless given. The event
    is an attempt's LaunchSpec, or a warm runner's WarmPodSpec (`{"warmPod": ...}`)."""
    if "warmPod" in payload:
        warm = WarmPodSpec.from_payload(payload)
        logger.info("starting warm runner", extra={"pod": warm.pod_id, "pool": warm.pool})
        (launcher or cluster_launcher()).start_warm(warm)
        return {"warmPod": warm.pod_id, "launched": True}
    spec = LaunchSpec.from_payload(payload, secrets.unseal)
    logger.info("launching agent", extra={"executionId": spec.execution_id, "attempt": spec.attempt})
    (launcher or cluster_launcher()).launch(spec)
    return {"executionId": spec.execution_id, "attempt": spec.attempt, "launched": True}
