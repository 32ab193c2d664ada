"""The batch/v1 Job of one attempt: its deterministic name, its labels and its manifest.

The name is a function of (task, attempt) alone, so creating the Job twice is answered 409 by the
API server: that is the whole of launch idempotency. Retries belong to Optio (a new attempt, a new
Job), never to Kubernetes, hence `backoffLimit: 0` and `restartPolicy: Never`.
"""
from __future__ import annotations

import base64
import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from .base import LaunchSpec, WarmPodSpec

TASK_LABEL = "optio.dev/task-id"
ATTEMPT_LABEL = "optio.dev/attempt"
# On the pod of an attempt whose network is restricted ("none" or "allow"): the namespace's default
# policy must leave such pods to their attempt's own (network_policy_manifest), since policies
# only ever add up.
NETWORK_LABEL = "optio.dev/network"
HTTPS = [{"protocol": "TCP", "port": 443}]
# The instance metadata service and the container credentials endpoint (IPv4 link-local) and
# EC2's IPv6 metadata address: never reachable, whatever an allow list says (an allow list is how a
# team reaches its private endpoints, never the node's credentials).
LINK_LOCAL = tuple(map(ipaddress.ip_network, ("169.254.0.0/16", "fd00:ec2::254/128")))
CONTAINER = "runner"
WORKSPACE = "/workspace"
# The runner image's user (runner-image/Dockerfile); numeric so runAsNonRoot can be verified.
RUNNER_UID = 1000
MAX_NAME = 63  # a DNS-1123 label: pods and the job-name label inherit the Job's name


@dataclass(frozen=True)
class JobSettings:
    namespace: str
    image: str | None
    service_account: str
    deadline_s: int
    ttl_s: int
    schedule_timeout_s: int


def job_name(execution_id: str, attempt: int) -> str:
    suffix = f"-{attempt}"
    prefix = _dns_label(execution_id)[: MAX_NAME - len("optio-") - len(suffix)].rstrip("-")
    return f"optio-{prefix}{suffix}"


def execution_label(execution_id: str) -> str:
    """The task id as a label value: at most 63 characters of [A-Za-z0-9._-], alphanumeric at both ends."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", execution_id)[:63].strip("-._")


def labels(execution_id: str, attempt: int) -> dict[str, str]:
    return {"app.kubernetes.io/name": "optio-runner", "app.kubernetes.io/managed-by": "optio",
            TASK_LABEL: execution_label(execution_id), ATTEMPT_LABEL: str(attempt)}


def selector(execution_id: str, attempt: int) -> str:
    return f"{TASK_LABEL}={execution_label(execution_id)},{ATTEMPT_LABEL}={attempt}"


def job_manifest(spec: LaunchSpec, settings: JobSettings) -> dict[str, Any]:
    image = spec.image or settings.image
    if not image:
        raise ValueError("no runner image: set OPTIO_RUNNER_IMAGE or the repo's image")
    name = job_name(spec.execution_id, spec.attempt)
    attempt_labels = labels(spec.execution_id, spec.attempt)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": settings.namespace,
            "labels": attempt_labels,
            # The label is a sanitised copy; the annotation keeps the id exactly.
            "annotations": {"optio.dev/task-id": spec.execution_id},
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": settings.deadline_s,
            "ttlSecondsAfterFinished": settings.ttl_s,
            "template": {
                "metadata": {"labels": attempt_labels if spec.network == "internet"
                             else {**attempt_labels, NETWORK_LABEL: spec.network}},
                "spec": {
                    "restartPolicy": "Never",
                    "serviceAccountName": settings.service_account,
                    # The runner talks to Optio's API, never to the cluster's.
                    "automountServiceAccountToken": False,
                    # The environment is the container's list alone: no variables naming every
                    # service of the namespace (the agent runs arbitrary code with it).
                    "enableServiceLinks": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": RUNNER_UID,
                        "runAsGroup": RUNNER_UID,
                        "fsGroup": RUNNER_UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [_container(spec, image)],
                    "volumes": [{"name": "workspace", "emptyDir": {}}],
                },
            },
        },
    }


def secret_manifest(spec: LaunchSpec, namespace: str, owner_uid: str | None = None) -> dict[str, Any]:
    """The attempt's own Secret: the stored secrets its agent gets, named like its Job. Written
    before the Job (its pod must find every key at once), then given the Job as its owner
    (`owner_uid`), so that it goes when the Job goes (TTL or cancel)."""
    name = job_name(spec.execution_id, spec.attempt)
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels(spec.execution_id, spec.attempt)}
    if owner_uid is not None:
        metadata["ownerReferences"] = [{"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": owner_uid,
                                        "controller": True, "blockOwnerDeletion": True}]
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": metadata,
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in sorted(spec.secrets.items())
                 if key not in spec.environment},
    }


def network_policy_manifest(spec: LaunchSpec, namespace: str, api_cidrs: list[str], allowed_cidrs: list[str],
                            owner_uid: str | None = None) -> dict[str, Any]:
    """The attempt's own NetworkPolicy when its network is restricted ("none" or "allow"; with
    "internet" there is none, the namespace's default applies), named like its Job and, like its
    Secret, written before it and then owned by it. The pod may resolve names and reach Optio's API (`api_cidrs`,
    the runner's channel, which shares the pod's network) over HTTPS; "allow" adds
    `allowed_cidrs` on 443. Host names cannot be written in a NetworkPolicy: the launcher gives
    their addresses as resolved at launch."""
    name = job_name(spec.execution_id, spec.attempt)
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels(spec.execution_id, spec.attempt)}
    if owner_uid is not None:
        metadata["ownerReferences"] = [{"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": owner_uid,
                                        "controller": True, "blockOwnerDeletion": True}]
    dns = {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                   "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
           "ports": [{"protocol": protocol, "port": 53} for protocol in ("UDP", "TCP")]}
    reachable = sorted(set(api_cidrs) | (set(allowed_cidrs) if spec.network == "allow" else set()))
    blocks = [block for block in map(_without_link_local, reachable) if block is not None]
    egress = [dns] + ([{"to": [{"ipBlock": block} for block in blocks], "ports": HTTPS}] if blocks else [])
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": metadata,
        "spec": {
            "podSelector": {"matchLabels": {TASK_LABEL: execution_label(spec.execution_id),
                                            ATTEMPT_LABEL: str(spec.attempt)}},
            "policyTypes": ["Ingress", "Egress"],
            "egress": egress,
        },
    }


def _without_link_local(cidr: str) -> dict[str, Any] | None:
    """An ipBlock of `cidr` less the link-local ranges it holds; None when it lies inside one."""
    network = ipaddress.ip_network(cidr, strict=False)
    if any(_within(network, r) for r in LINK_LOCAL):
        return None
    inside = [str(r) for r in LINK_LOCAL if _within(r, network)]
    return {"cidr": str(network), **({"except": inside} if inside else {})}


def _within(inner: ipaddress.IPv4Network | ipaddress.IPv6Network,
            outer: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    return inner.version == outer.version and int(outer.network_address) <= int(inner.network_address) \
        and int(inner.broadcast_address) <= int(outer.broadcast_address)


def _container(spec: LaunchSpec, image: str) -> dict[str, Any]:
    env: list[dict[str, Any]] = [{"name": name, "value": value} for name, value in sorted(spec.environment.items())]
    env.append({"name": "OPTIO_WORKSPACE", "value": WORKSPACE})
    # The stored secrets, from the attempt's own Secret (secret_manifest): exactly its keys, never
    # one the attempt's input already sets.
    env += [
        {"name": name, "valueFrom": {"secretKeyRef": {"name": job_name(spec.execution_id, spec.attempt), "key": name}}}
        for name in sorted(spec.secrets)
        if name not in spec.environment
    ]
    return {
        "name": CONTAINER,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "workingDir": WORKSPACE,
        "env": env,
        "resources": spec.resources.to_settings(),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "workspace", "mountPath": WORKSPACE}],
    }


def _dns_label(text: str) -> str:
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", text.lower())).strip("-") or "task"


# A warm runner's Job (core.warm_pools): named and labelled by its pod id and pool, not by an
# attempt, since it has none until one is handed to it.
WARM_POD_LABEL = "optio.dev/warm-pod"
WARM_POOL_LABEL = "optio.dev/warm-pool"


def warm_job_name(pod_id: str) -> str:
    return f"optio-warm-{_dns_label(pod_id)}"[:MAX_NAME].rstrip("-")


def warm_selector(pod_id: str) -> str:
    return f"{WARM_POD_LABEL}={execution_label(pod_id)}"


def warm_job_manifest(spec: WarmPodSpec, settings: JobSettings) -> dict[str, Any]:
    """The attempt's Job but for its name, labels and input: no deadline either, since a warm runner
    waits for as long as its pool wants it (the attempt it adopts is watched for stalls like any);
    no Secret, since the attempt's secrets reach it only when it claims the attempt."""
    attempt_spec = LaunchSpec(execution_id=spec.pod_id, attempt=0, environment=spec.environment,
                              image=spec.image, resources=spec.resources)
    manifest = job_manifest(attempt_spec, settings)
    pod_labels = {"app.kubernetes.io/name": "optio-runner", "app.kubernetes.io/managed-by": "optio",
                  WARM_POD_LABEL: execution_label(spec.pod_id), WARM_POOL_LABEL: execution_label(spec.pool)}
    manifest["metadata"].update(name=warm_job_name(spec.pod_id), labels=pod_labels,
                                annotations={WARM_POOL_LABEL: spec.pool})
    del manifest["spec"]["activeDeadlineSeconds"]
    manifest["spec"]["template"]["metadata"]["labels"] = pod_labels
    return manifest
