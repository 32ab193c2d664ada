"""A loopback stand-in for the Kubernetes API server: the batch/v1 Job and core/v1 Pod endpoints
the Kubernetes launcher uses, over real HTTP with the real request and response shapes.

    POST   /apis/batch/v1/namespaces/{ns}/jobs            201 Job | 409 AlreadyExists | 422 Invalid
    GET    /apis/batch/v1/namespaces/{ns}/jobs/{name}     200 Job | 404 NotFound
    DELETE /apis/batch/v1/namespaces/{ns}/jobs/{name}     200 Job (foreground) or Status | 404 NotFound
    GET    /api/v1/namespaces/{ns}/pods?labelSelector=... 200 PodList
    POST   /api/v1/namespaces/{ns}/secrets                201 Secret | 409 AlreadyExists
    GET|PUT|DELETE /api/v1/namespaces/{ns}/secrets/{name} 200 Secret | 404 NotFound
    POST   /apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies          201 | 409 AlreadyExists
    GET|PUT|DELETE /apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies/{name} 200 | 404 NotFound

Deleting a Job also deletes what it owns (a Secret or NetworkPolicy whose ownerReferences name
its uid), as the garbage collector does. The stored NetworkPolicies are enforced as a network plugin
enforces them (`egress_allowed`, Kubernetes' "Network Policies": a pod selected by no policy with
Egress is not isolated; one selected by any is, and may reach what any of those policies' egress
rules admits: policies add up, none takes away).

Errors are `Status` objects as the API server sends them. Creating a Job also plays the Job
controller's first move: its pod appears, Pending and unscheduled, carrying the template's labels.
The `*_pod` hooks then move that pod (and its Job's status) the way kubelet and the Job
controller would: running, succeeded, failed, OOM-killed, stuck pulling its image, unschedulable,
evicted, deleted, past its deadline. Every request is recorded for assertions.
"""
from __future__ import annotations

import copy
import ipaddress
import json
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .loopback import Loopback

JOBS = re.compile(r"^/apis/batch/v1/namespaces/(?P<ns>[^/]+)/jobs(?:/(?P<name>[^/]+))?$")
PODS = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods$")
SECRETS = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/secrets(?:/(?P<name>[^/]+))?$")
POLICIES = re.compile(r"^/apis/networking\.k8s\.io/v1/namespaces/(?P<ns>[^/]+)/networkpolicies(?:/(?P<name>[^/]+))?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
RUNNER = "runner"

Json = dict[str, Any]


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str | None
    body: Json | None


def timestamp(when: datetime | None = None) -> str:
    return (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_object(code: int, reason: str, message: str, name: str | None = None, kind: str = "jobs",
                  group: str = "batch") -> Json:
    body: Json = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": message, "reason": reason, "code": code}
    if name is not None:
        body["details"] = {"name": name, "group": group, "kind": kind}
    return body


@dataclass
class FakeKubernetes:
    namespaces: set[str] = field(default_factory=lambda: {"optio"})
    # Decides whether an Authorization header may pass; None lets everything through.
    authorize: Callable[[str | None], bool] | None = None
    jobs: dict[tuple[str, str], Json] = field(default_factory=dict)
    pods: dict[tuple[str, str], Json] = field(default_factory=dict)
    secrets: dict[tuple[str, str], Json] = field(default_factory=dict)
    network_policies: dict[tuple[str, str], Json] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    url: str = ""
    _loopback: Loopback | None = None
    _version: int = 1000

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeKubernetes:
        self._loopback = Loopback(_handler(self))
        self.url = self._loopback.url
        return self

    def stop(self) -> None:
        if self._loopback is not None:
            self._loopback.stop()

    def kubeconfig(self, namespace: str = "optio") -> Json:
        """A kubeconfig whose current context points at this server."""
        return {
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": "fake-token"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": namespace}}],
        }

    # --- what tests look at ----------------------------------------------------------------

    def job(self, name: str, namespace: str = "optio") -> Json | None:
        with self.lock:
            job = self.jobs.get((namespace, name))
            return copy.deepcopy(job) if job is not None else None

    def secret(self, name: str, namespace: str = "optio") -> Json | None:
        with self.lock:
            secret = self.secrets.get((namespace, name))
            return copy.deepcopy(secret) if secret is not None else None

    def network_policy(self, name: str, namespace: str = "optio") -> Json | None:
        with self.lock:
            policy = self.network_policies.get((namespace, name))
            return copy.deepcopy(policy) if policy is not None else None

    def egress_allowed(self, pod: Json, address: str, port: int, protocol: str = "TCP") -> bool:
        """Whether the pod may open a connection to an address outside the cluster (ipBlock peers;
        peers chosen by pod or namespace labels are the cluster's own pods: not such an address)."""
        namespace, labels = pod["metadata"]["namespace"], pod["metadata"].get("labels") or {}
        with self.lock:
            selecting = [p["spec"] for (ns, _), p in self.network_policies.items()
                         if ns == namespace and "Egress" in p["spec"].get("policyTypes", ["Ingress"])
                         and _selects(p["spec"].get("podSelector") or {}, labels)]
        if not selecting:
            return True
        ip = ipaddress.ip_address(address)
        for rule in (r for spec in selecting for r in spec.get("egress") or []):
            ports = rule.get("ports")
            if ports and not any(p.get("protocol", "TCP") == protocol and p.get("port") in (None, port)
                                 for p in ports):
                continue
            peers = rule.get("to")
            if not peers:
                return True  # no `to`: every destination
            for block in (peer["ipBlock"] for peer in peers if "ipBlock" in peer):
                network = ipaddress.ip_network(block["cidr"])
                if ip.version == network.version and ip in network and not any(
                        ip in ipaddress.ip_network(e) for e in block.get("except") or []):
                    return True
        return False

    def pods_of(self, job_name: str, namespace: str = "optio") -> list[Json]:
        with self.lock:
            return [copy.deepcopy(pod) for (ns, _), pod in self.pods.items()
                    if ns == namespace and pod["metadata"]["labels"].get("job-name") == job_name]

    def made(self, method: str, pattern: str = "") -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.method == method and re.search(pattern, r.path)]

    # --- hooks: kubelet and the Job controller ----------------------------------------------

    def run_pod(self, job_name: str, namespace: str = "optio") -> None:
        def change(pod: Json, job: Json) -> None:
            _schedule(pod)
            pod["status"].update(phase="Running", startTime=timestamp())
            pod["status"]["containerStatuses"] = [_container(pod, {"running": {"startedAt": timestamp()}},
                                                             ready=True, started=True)]
            job["status"].update(active=1, ready=1)
        self._change(job_name, namespace, change)

    def succeed_pod(self, job_name: str, namespace: str = "optio") -> None:
        def change(pod: Json, job: Json) -> None:
            self._terminate(pod, job, exit_code=0, reason="Completed")
            pod["status"]["phase"] = "Succeeded"
            job["status"].update(active=0, ready=0, succeeded=1, completionTime=timestamp())
            job["status"]["conditions"] = [
                _condition("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods"),
                _condition("Complete", "CompletionsReached", "Reached expected number of succeeded pods"),
            ]
        self._change(job_name, namespace, change)

    def fail_pod(self, job_name: str, exit_code: int = 1, reason: str = "Error", namespace: str = "optio") -> None:
        def change(pod: Json, job: Json) -> None:
            self._terminate(pod, job, exit_code=exit_code, reason=reason)
            pod["status"]["phase"] = "Failed"
            _fail_job(job, "BackoffLimitExceeded", "Job has reached the specified backoff limit")
        self._change(job_name, namespace, change)

    def oom_kill_pod(self, job_name: str, namespace: str = "optio") -> None:
        self.fail_pod(job_name, exit_code=137, reason="OOMKilled", namespace=namespace)

    def image_pull_backoff(self, job_name: str, reason: str = "ImagePullBackOff", namespace: str = "optio") -> None:
        def change(pod: Json, job: Json) -> None:
            _schedule(pod)
            image = pod["spec"]["containers"][0]["image"]
            message = f'Back-off pulling image "{image}": ErrImagePull: failed to pull and unpack image "{image}": not found'
            pod["status"]["containerStatuses"] = [_container(pod, {"waiting": {"reason": reason, "message": message}})]
        self._change(job_name, namespace, change)

    def missing_secret_key(self, job_name: str, key: str, namespace: str = "optio", secret: str | None = None) -> None:
        """A key the pod refers to is not in the Secret (the attempt's own, named like its Job, unless
        `secret` names another)."""
        def change(pod: Json, job: Json) -> None:
            _schedule(pod)
            waiting = {"reason": "CreateContainerConfigError",
                       "message": f"couldn't find key {key} in Secret {namespace}/{secret or job_name}"}
            pod["status"]["containerStatuses"] = [_container(pod, {"waiting": waiting})]
        self._change(job_name, namespace, change)

    def unschedulable_pod(self, job_name: str, namespace: str = "optio") -> None:
        def change(pod: Json, job: Json) -> None:
            pod["status"]["conditions"] = [{
                "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: "
                           "3 No preemption victims found for incoming pod.",
                "lastProbeTime": None, "lastTransitionTime": timestamp(),
            }]
        self._change(job_name, namespace, change)

    def evict_pod(self, job_name: str, namespace: str = "optio") -> None:
        def change(pod: Json, job: Json) -> None:
            self._terminate(pod, job, exit_code=137, reason="Error")
            pod["status"].update(phase="Failed", reason="Evicted",
                                 message="The node was low on resource: memory. Threshold quantity: 100Mi, "
                                         "available: 52Mi.")
            pod["status"]["conditions"].append(_condition(
                "DisruptionTarget", "TerminationByKubelet",
                "The node was low on resource: memory. Threshold quantity: 100Mi, available: 52Mi."))
            _fail_job(job, "BackoffLimitExceeded", "Job has reached the specified backoff limit")
        self._change(job_name, namespace, change)

    def delete_pod(self, job_name: str, namespace: str = "optio") -> None:
        """Someone deleted the pod: the Job controller counts it failed and, with backoffLimit 0, gives up."""
        with self.lock:
            job = self.jobs[(namespace, job_name)]
            for key in [k for k, pod in self.pods.items() if pod["metadata"]["labels"].get("job-name") == job_name]:
                del self.pods[key]
            job["status"].update(active=0, ready=0, failed=1)
            _fail_job(job, "BackoffLimitExceeded", "Job has reached the specified backoff limit")
            self._bump(job)

    def exceed_deadline(self, job_name: str, namespace: str = "optio") -> None:
        """The Job ran past activeDeadlineSeconds: the controller deletes its pod and fails it."""
        with self.lock:
            job = self.jobs[(namespace, job_name)]
            for key in [k for k, pod in self.pods.items() if pod["metadata"]["labels"].get("job-name") == job_name]:
                del self.pods[key]
            job["status"].update(active=0, ready=0, failed=1)
            _fail_job(job, "DeadlineExceeded", "Job was active longer than specified deadline")
            self._bump(job)

    def backdate(self, job_name: str, seconds: float, namespace: str = "optio") -> None:
        """Makes the Job and its pod look `seconds` older than they are."""
        def older(obj: Json) -> None:
            created = datetime.fromisoformat(obj["metadata"]["creationTimestamp"])
            obj["metadata"]["creationTimestamp"] = timestamp(created - timedelta(seconds=seconds))
        with self.lock:
            older(self.jobs[(namespace, job_name)])
            for pod in self.pods.values():
                if pod["metadata"]["labels"].get("job-name") == job_name:
                    older(pod)

    # --- the API ---------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, authorization: str | None, body: Json | None) -> tuple[int, Json]:
        parts = urlsplit(raw_path)
        query = parse_qs(parts.query)
        with self.lock:
            self.requests.append(Recorded(method, parts.path, query, authorization, body))
            if self.authorize is not None and not self.authorize(authorization):
                return 401, {**status_object(401, "Unauthorized", "Unauthorized"), "details": None}
            jobs = JOBS.match(parts.path)
            if jobs and method == "POST" and jobs["name"] is None:
                return self._create_job(jobs["ns"], body or {})
            if jobs and method == "GET" and jobs["name"]:
                return self._get_job(jobs["ns"], jobs["name"])
            if jobs and method == "DELETE" and jobs["name"]:
                policy = (body or {}).get("propagationPolicy") or query.get("propagationPolicy", [None])[0]
                return self._delete_job(jobs["ns"], jobs["name"], policy)
            pods = PODS.match(parts.path)
            if pods and method == "GET":
                return self._list_pods(pods["ns"], query.get("labelSelector", [""])[0])
            secrets = SECRETS.match(parts.path)
            if secrets:
                return self._stored(method, secrets["ns"], secrets["name"], body, self.secrets, "secrets", "")
            policies = POLICIES.match(parts.path)
            if policies:
                return self._stored(method, policies["ns"], policies["name"], body, self.network_policies,
                                    "networkpolicies", "networking.k8s.io")
            return 404, status_object(404, "NotFound", "the server could not find the requested resource")

    def _create_job(self, namespace: str, job: Json) -> tuple[int, Json]:
        name = str(job.get("metadata", {}).get("name", ""))
        if namespace not in self.namespaces:
            return 404, status_object(404, "NotFound", f'namespaces "{namespace}" not found', namespace,
                                      kind="namespaces", group="")
        problems = _invalid(job)
        if problems:
            return 422, {**status_object(422, "Invalid", f'Job.batch "{name}" is invalid: ' + "; ".join(problems),
                                         name), "details": {"name": name, "group": "batch", "kind": "Job",
                                                            "causes": [{"message": p} for p in problems]}}
        if (namespace, name) in self.jobs:
            return 409, status_object(409, "AlreadyExists", f'jobs.batch "{name}" already exists', name)
        job = copy.deepcopy(job)
        uid = str(uuid.uuid4())
        job["metadata"].update(namespace=namespace, uid=uid, creationTimestamp=timestamp(), generation=1)
        controller_labels = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
                             "controller-uid": uid, "job-name": name}
        job["metadata"].setdefault("labels", {}).update(controller_labels)
        template = job["spec"]["template"]
        template.setdefault("metadata", {}).setdefault("labels", {}).update(controller_labels)
        job["spec"].update(selector={"matchLabels": {"batch.kubernetes.io/controller-uid": uid}},
                           completions=job["spec"].get("completions", 1),
                           parallelism=job["spec"].get("parallelism", 1))
        job["status"] = {"active": 1, "ready": 0, "startTime": timestamp(), "terminating": 0,
                         "uncountedTerminatedPods": {}}
        self._bump(job)
        self.jobs[(namespace, name)] = job
        self._create_pod(namespace, job)
        return 201, copy.deepcopy(job)

    def _create_pod(self, namespace: str, job: Json) -> None:
        template = job["spec"]["template"]
        name = f"{job['metadata']['name'][:57]}-{secrets.token_hex(3)[:5]}"
        pod: Json = {
            "metadata": {
                "name": name, "generateName": job["metadata"]["name"] + "-", "namespace": namespace,
                "uid": str(uuid.uuid4()), "creationTimestamp": timestamp(),
                "labels": dict(template["metadata"]["labels"]),
                "finalizers": ["batch.kubernetes.io/job-tracking"],
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": job["metadata"]["name"],
                                     "uid": job["metadata"]["uid"], "controller": True,
                                     "blockOwnerDeletion": True}],
            },
            "spec": copy.deepcopy(template["spec"]),
            "status": {"phase": "Pending", "conditions": [], "qosClass": "Burstable"},
        }
        self._bump(pod)
        self.pods[(namespace, name)] = pod

    def _stored(self, method: str, namespace: str, name: str | None, body: Json | None, store: dict[tuple[str, str], Json],
                kind: str, group: str) -> tuple[int, Json]:
        """A namespaced object kept as sent (Secrets, NetworkPolicies): create, read, replace, delete."""
        def missing(name: str) -> tuple[int, Json]:
            return 404, status_object(404, "NotFound", f'{kind}{"." + group if group else ""} "{name}" not found', name,
                                      kind=kind, group=group)

        if namespace not in self.namespaces:
            return 404, status_object(404, "NotFound", f'namespaces "{namespace}" not found', namespace,
                                      kind="namespaces", group="")
        if method == "POST" and name is None:
            obj = copy.deepcopy(body or {})
            name = str(obj.get("metadata", {}).get("name", ""))
            if (namespace, name) in store:
                return 409, status_object(409, "AlreadyExists", f'{kind} "{name}" already exists', name,
                                          kind=kind, group=group)
            obj["metadata"].update(namespace=namespace, uid=str(uuid.uuid4()), creationTimestamp=timestamp())
            self._bump(obj)
            store[(namespace, name)] = obj
            return 201, copy.deepcopy(obj)
        if name is None or (namespace, name) not in store:
            return missing(name or "")
        if method == "GET":
            return 200, copy.deepcopy(store[(namespace, name)])
        if method == "PUT":
            obj = copy.deepcopy(body or {})
            old = store[(namespace, name)]["metadata"]
            obj["metadata"].update(namespace=namespace, uid=old["uid"], creationTimestamp=old["creationTimestamp"])
            self._bump(obj)
            store[(namespace, name)] = obj
            return 200, copy.deepcopy(obj)
        if method == "DELETE":
            del store[(namespace, name)]
            return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
        return 405, status_object(405, "MethodNotAllowed", "the server does not allow this method")

    def _collect_owned(self, uid: str) -> None:
        """The garbage collector: what the deleted owner owned goes too."""
        for store in (self.secrets, self.network_policies):
            for key in [k for k, s in store.items()
                        if any(o.get("uid") == uid for o in s["metadata"].get("ownerReferences", []))]:
                del store[key]

    def _get_job(self, namespace: str, name: str) -> tuple[int, Json]:
        job = self.jobs.get((namespace, name))
        if job is None:
            return 404, status_object(404, "NotFound", f'jobs.batch "{name}" not found', name)
        return 200, copy.deepcopy(job)

    def _delete_job(self, namespace: str, name: str, policy: str | None) -> tuple[int, Json]:
        job = self.jobs.pop((namespace, name), None)
        if job is None:
            return 404, status_object(404, "NotFound", f'jobs.batch "{name}" not found', name)
        self._collect_owned(job["metadata"]["uid"])
        if policy in ("Foreground", "Background"):
            for key in [k for k, pod in self.pods.items()
                        if k[0] == namespace and pod["metadata"]["labels"].get("job-name") == name]:
                del self.pods[key]
        # Garbage collection finishes at once here; the answer is what the API server says first.
        if policy == "Foreground":
            job["metadata"].update(deletionTimestamp=timestamp(), deletionGracePeriodSeconds=0,
                                   finalizers=["foregroundDeletion"])
            self._bump(job)
            return 200, job
        return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                     "details": {"name": name, "group": "batch", "kind": "jobs", "uid": job["metadata"]["uid"]}}

    def _list_pods(self, namespace: str, selector: str) -> tuple[int, Json]:
        try:
            wanted = _selector(selector)
        except ValueError as error:
            return 400, status_object(400, "BadRequest", f"unable to parse requirement: {error}")
        items = [copy.deepcopy(pod) for (ns, _), pod in sorted(self.pods.items())
                 if ns == namespace and all(test(pod["metadata"].get("labels", {})) for test in wanted)]
        return 200, {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": str(self._version)},
                     "items": items}

    # --- internals -------------------------------------------------------------------------

    def _change(self, job_name: str, namespace: str, change: Callable[[Json, Json], None]) -> None:
        with self.lock:
            job = self.jobs[(namespace, job_name)]
            [pod] = [pod for (ns, _), pod in self.pods.items()
                     if ns == namespace and pod["metadata"]["labels"].get("job-name") == job_name]
            change(pod, job)
            self._bump(pod)
            self._bump(job)

    def _terminate(self, pod: Json, job: Json, exit_code: int, reason: str) -> None:
        _schedule(pod)
        terminated = {"exitCode": exit_code, "reason": reason, "startedAt": timestamp(), "finishedAt": timestamp()}
        pod["status"]["containerStatuses"] = [_container(pod, {"terminated": terminated})]
        if exit_code != 0:
            job["status"].update(active=0, ready=0, failed=1)

    def _bump(self, obj: Json) -> None:
        self._version += 1
        obj["metadata"]["resourceVersion"] = str(self._version)


def _schedule(pod: Json) -> None:
    pod["spec"].setdefault("nodeName", "ip-10-0-1-23.ec2.internal")
    if not any(c["type"] == "PodScheduled" and c["status"] == "True" for c in pod["status"]["conditions"]):
        pod["status"]["conditions"] = [_condition("PodScheduled", None, None)]


def _container(pod: Json, state: Json, ready: bool = False, started: bool = False) -> Json:
    image = pod["spec"]["containers"][0]["image"]
    return {"name": RUNNER, "image": image, "imageID": "", "state": state, "lastState": {},
            "ready": ready, "restartCount": 0, "started": started}


def _condition(kind: str, reason: str | None, message: str | None) -> Json:
    condition: Json = {"type": kind, "status": "True", "lastProbeTime": None, "lastTransitionTime": timestamp()}
    if reason:
        condition.update(reason=reason, message=message)
    return condition


def _fail_job(job: Json, reason: str, message: str) -> None:
    job["status"]["conditions"] = [_condition("FailureTarget", reason, message), _condition("Failed", reason, message)]


def _invalid(job: Json) -> list[str]:
    """The checks of the API server's validation that a launcher bug would trip."""
    problems = []
    metadata = job.get("metadata", {})
    name = str(metadata.get("name", ""))
    if job.get("apiVersion") != "batch/v1" or job.get("kind") != "Job":
        problems.append("apiVersion/kind: must be batch/v1 Job")
    if not name or len(name) > 63 or not DNS_SUBDOMAIN.match(name):
        problems.append(f"metadata.name: Invalid value: {name!r}: must be a DNS-1123 label of at most 63 characters")
    template = job.get("spec", {}).get("template", {})
    labels = {**metadata.get("labels", {}), **template.get("metadata", {}).get("labels", {})}
    for key, value in labels.items():
        if not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE.match(value):
            problems.append(f"metadata.labels: Invalid value: {value!r} for {key}")
    restart = template.get("spec", {}).get("restartPolicy")
    if restart not in ("Never", "OnFailure"):
        problems.append(f"spec.template.spec.restartPolicy: Unsupported value: {restart!r}")
    return problems


def _split(selector: str) -> Iterator[str]:
    depth, start = 0, 0
    for i, char in enumerate(selector):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            yield selector[start:i].strip()
            start = i + 1
    if selector[start:].strip():
        yield selector[start:].strip()


def _selector(selector: str) -> list[Callable[[dict[str, str]], bool]]:
    """Label selector requirements: k=v, k==v, k!=v, k, !k, k in (a,b), k notin (a,b)."""
    tests: list[Callable[[dict[str, str]], bool]] = []
    for requirement in _split(selector):
        if match := re.fullmatch(r"([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)", requirement):
            key, op, value = match.groups()
            if op == "!=":
                tests.append(lambda labels, k=key, v=value: labels.get(k) != v)
            else:
                tests.append(lambda labels, k=key, v=value: labels.get(k) == v)
        elif match := re.fullmatch(r"([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)", requirement):
            key, op, values = match.groups()
            options = {v.strip() for v in values.split(",")}
            if op == "in":
                tests.append(lambda labels, k=key, o=options: labels.get(k) in o)
            else:
                tests.append(lambda labels, k=key, o=options: labels.get(k) not in o)
        elif match := re.fullmatch(r"(!?)([\w./-]+)", requirement):
            negated, key = match.groups()
            tests.append(lambda labels, k=key, n=bool(negated): (k in labels) != n)
        else:
            raise ValueError(repr(requirement))
    return tests


def _selects(selector: Json, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels and matchExpressions; `{}` selects every pod) against labels."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        present = {"In": key in labels and labels[key] in values, "NotIn": labels.get(key) not in values,
                   "Exists": key in labels, "DoesNotExist": key not in labels}[operator]
        if not present:
            return False
    return True


def _handler(fake: FakeKubernetes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            code, payload = fake.handle(self.command, self.path, self.headers.get("Authorization"), body)
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
