"""Agents as Kubernetes Jobs (EKS on AWS): one batch/v1 Job per attempt.

launch creates the attempt's Job (409 AlreadyExists is success: the name is deterministic),
status reads the Job and its pod and maps them to a `PodStatus` (k8s_status.py), cancel deletes
the Job with its pod (404 is success). Bodies go over the wire as plain API JSON.
"""
from __future__ import annotations

import ipaddress
import json
import socket
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from chalicelib.core.network import cidrs
from chalicelib.core.reconcile import PodStatus
from chalicelib.observability import logger
from chalicelib.settings import Settings

from .base import LaunchSpec, WarmPodSpec
from .k8s_client import ClusterAccess, connect
from .k8s_job import (
    JobSettings,
    job_manifest,
    job_name,
    network_policy_manifest,
    secret_manifest,
    selector,
    warm_job_manifest,
    warm_job_name,
    warm_selector,
)
from .k8s_status import pod_status

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

REQUEST_TIMEOUT_S = 15.0


def job_settings(settings: Settings) -> JobSettings:
    return JobSettings(
        namespace=settings.k8s_namespace,
        image=settings.runner_image,
        service_account=settings.k8s_service_account,
        deadline_s=settings.job_deadline_s,
        ttl_s=settings.job_ttl_s,
        schedule_timeout_s=settings.k8s_schedule_timeout_s,
    )


class KubernetesLauncher:
    name = "kubernetes"
    # A restricted network is an attempt's own NetworkPolicy, selecting its own Job's pod.
    warm_networks = frozenset({"internet"})
    # Its Job is created before start_warm returns; a pod not scheduled yet reads as pending.
    warm_start_grace = timedelta(0)

    def __init__(self, jobs: JobSettings, access: ClusterAccess,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        access.check()
        self._jobs = jobs
        self._access = access
        self._clock = clock
        self._lock = threading.Lock()
        self._client: ApiClient | None = None

    def launch(self, spec: LaunchSpec) -> None:
        """The attempt's Secret (its agent's stored secrets) and NetworkPolicy (a restricted
        network's), then its Job, then the Job made their owner: every step repeatable, so a
        second delivery of the launch completes it."""
        from kubernetes.client import ApiException, BatchV1Api, V1Job

        manifest = job_manifest(spec, self._jobs)
        name = manifest["metadata"]["name"]
        log = {"executionId": spec.execution_id, "attempt": spec.attempt, "job": name, "namespace": self._jobs.namespace}
        restricted = spec.network != "internet"
        reachable = _reachable(spec) if restricted else ([], [])
        if spec.secrets:
            self._write_secret(secret_manifest(spec, self._jobs.namespace))
        if restricted:
            self._write_policy(network_policy_manifest(spec, self._jobs.namespace, *reachable))
        jobs = BatchV1Api(self._api())
        try:
            job = _json(jobs.create_namespaced_job(
                self._jobs.namespace, V1Job.model_validate(manifest), _preload_content=False,
                _request_timeout=REQUEST_TIMEOUT_S))
            logger.info("agent job created", extra=log)
        except ApiException as error:
            if error.status != 409:
                raise
            logger.info("agent job already exists", extra=log)
            job = _json(jobs.read_namespaced_job(name, self._jobs.namespace, _preload_content=False,
                                                 _request_timeout=REQUEST_TIMEOUT_S))
        if spec.secrets:
            self._write_secret(secret_manifest(spec, self._jobs.namespace, owner_uid=job["metadata"]["uid"]),
                               exists=True)
        if restricted:
            self._write_policy(network_policy_manifest(spec, self._jobs.namespace, *reachable,
                                                       owner_uid=job["metadata"]["uid"]), exists=True)

    def _write_policy(self, manifest: dict[str, Any], exists: bool = False) -> None:
        """Create the NetworkPolicy, or replace it (as _write_secret does the Secret)."""
        from kubernetes.client import ApiException, NetworkingV1Api, V1NetworkPolicy

        networking = NetworkingV1Api(self._api())
        name, namespace = manifest["metadata"]["name"], self._jobs.namespace
        body = V1NetworkPolicy.model_validate(manifest)
        if not exists:
            try:
                networking.create_namespaced_network_policy(namespace, body, _preload_content=False,
                                                            _request_timeout=REQUEST_TIMEOUT_S)
                return
            except ApiException as error:
                if error.status != 409:
                    raise
        networking.replace_namespaced_network_policy(name, namespace, body, _preload_content=False,
                                                     _request_timeout=REQUEST_TIMEOUT_S)

    def _write_secret(self, manifest: dict[str, Any], exists: bool = False) -> None:
        """Create the Secret, or replace it: the one this launch wrote (`exists`), or the one a
        first delivery of it left."""
        from kubernetes.client import ApiException, CoreV1Api, V1Secret

        core = CoreV1Api(self._api())
        name, namespace, body = manifest["metadata"]["name"], self._jobs.namespace, V1Secret.model_validate(manifest)
        if not exists:
            try:
                core.create_namespaced_secret(namespace, body, _preload_content=False,
                                              _request_timeout=REQUEST_TIMEOUT_S)
                return
            except ApiException as error:
                if error.status != 409:
                    raise
        core.replace_namespaced_secret(name, namespace, body, _preload_content=False,
                                       _request_timeout=REQUEST_TIMEOUT_S)

    def start_warm(self, spec: WarmPodSpec) -> None:
        """A warm runner's Job; 409 (a repeated delivery) is success."""
        from kubernetes.client import ApiException, BatchV1Api, V1Job

        manifest = warm_job_manifest(spec, self._jobs)
        try:
            BatchV1Api(self._api()).create_namespaced_job(
                self._jobs.namespace, V1Job.model_validate(manifest), _preload_content=False,
                _request_timeout=REQUEST_TIMEOUT_S)
        except ApiException as error:
            if error.status != 409:
                raise
        logger.info("warm runner job created", extra={"pod": spec.pod_id, "pool": spec.pool,
                                                      "job": manifest["metadata"]["name"]})

    def status(self, execution_id: str, attempt: int) -> PodStatus:
        return self._job_status(job_name(execution_id, attempt), selector(execution_id, attempt))

    def warm_status(self, pod_id: str) -> PodStatus:
        return self._job_status(warm_job_name(pod_id), warm_selector(pod_id))

    def cancel(self, execution_id: str, attempt: int) -> None:
        self._delete_job(job_name(execution_id, attempt))

    def stop_warm(self, pod_id: str) -> None:
        self._delete_job(warm_job_name(pod_id))

    def wake_warm(self, pod_id: str) -> None:
        """Nothing: a pod's runner finds its attempt at its next ask (OPTIO_WARM_POLL_MS)."""

    def _job_status(self, name: str, pod_selector: str) -> PodStatus:
        from kubernetes.client import ApiException, BatchV1Api, CoreV1Api

        try:
            job = _json(BatchV1Api(self._api()).read_namespaced_job(
                name, self._jobs.namespace, _preload_content=False, _request_timeout=REQUEST_TIMEOUT_S))
        except ApiException as error:
            if error.status != 404:
                raise
            job = None
        pods: list[dict[str, Any]] = []
        if job is not None:
            listed = _json(CoreV1Api(self._api()).list_namespaced_pod(
                self._jobs.namespace, label_selector=pod_selector, _preload_content=False,
                _request_timeout=REQUEST_TIMEOUT_S))
            pods = list(listed.get("items") or [])
        status = pod_status(job, pods, self._clock(), self._jobs)
        if status.reason is not None:
            logger.debug("agent job status", extra={"job": name, "phase": status.phase.value,
                                                   "reason": status.reason})
        return status

    def _delete_job(self, name: str) -> None:
        from kubernetes.client import ApiException, BatchV1Api, V1DeleteOptions

        try:
            # Foreground: the Job goes once its pod is gone, so nothing of the attempt outlives it.
            BatchV1Api(self._api()).delete_namespaced_job(
                name, self._jobs.namespace, body=V1DeleteOptions(propagation_policy="Foreground"),
                _preload_content=False, _request_timeout=REQUEST_TIMEOUT_S)
        except ApiException as error:
            if error.status != 404:
                raise
            return
        logger.info("agent job deleted", extra={"job": name})

    def _api(self) -> ApiClient:
        with self._lock:
            if self._client is None:
                self._client = connect(self._access)
            return self._client


def _json(response: Any) -> dict[str, Any]:
    return json.loads(response.data)  # type: ignore[no-any-return]


def _reachable(spec: LaunchSpec) -> tuple[list[str], list[str]]:
    """Optio's API's addresses and the allow list's CIDRs, its host names resolved now: a
    NetworkPolicy holds addresses only, so a host that moves to another address during the
    attempt is out of reach until the next one. A name that does not resolve fails the launch
    (retried): never a policy narrower than the runner needs or wider than the list says."""
    networks, hosts = cidrs(list(spec.allow))
    api_host = urlsplit(spec.environment.get("OPTIO_API_URL", "")).hostname
    return _addresses([api_host] if api_host else []), networks + _addresses(hosts)


def _addresses(hosts: Iterable[str]) -> list[str]:
    found = set()
    for host in hosts:
        for *_, address in socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP):
            found.add(str(ipaddress.ip_network(address[0])))
    return sorted(found)
