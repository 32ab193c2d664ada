"""The Kubernetes stand-in with a kubelet: each Job it is given gets a pod that runs the runner
image's program (`python -m optio_runner` from runner-image/) as a process, with the container's
environment as Kubernetes builds it (envFrom, then env; `secretKeyRef`s read from the cluster's
Secrets, a missing required key leaving the pod in CreateContainerConfigError as kubelet does) and
its volumes as directories. The pod runs while the process does, then succeeds or fails with its
exit code; deleting the Job stops the process group (SIGTERM, then SIGKILL after the grace period).

Requests are authorised as EKS authorises the functions: their IAM roles are in the Kubernetes
groups their access entries name (`groups`), and a request passes only if a Role bound to one of
those groups in the namespace allows its verb on its resource (RBAC from the applied manifests).
"""
from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.conftest import REPO_ROOT
from tests.fakes.kubernetes_api import FakeKubernetes, Json, Recorded, status_object

RUNNER_IMAGE = REPO_ROOT / "runner-image"
# terminationGracePeriodSeconds is 30 s by default; the stand-in's agents stop well within 5 s.
GRACE_S = 5.0


@dataclass
class PodRunningCluster(FakeKubernetes):
    work_dir: Path = Path("/nonexistent")
    # What the runner image bakes in: its PATH, its agents (here the stand-in CLIs), its HOME.
    image_env: dict[str, str] = field(default_factory=dict)
    processes: dict[tuple[str, str], subprocess.Popen[bytes]] = field(default_factory=dict)
    # The groups the functions' access entries put them in; RBAC: Roles and what binds them.
    groups: set[str] = field(default_factory=set)
    roles: dict[tuple[str, str], list[Json]] = field(default_factory=dict)
    bindings: list[Json] = field(default_factory=list)

    def apply(self, manifest: Json) -> None:
        """What `kubectl apply` of the template's manifests leaves that the stand-in models."""
        with self.lock:
            meta = manifest.get("metadata", {})
            if manifest.get("kind") == "Namespace":
                self.namespaces.add(meta["name"])
            elif manifest.get("kind") == "Secret":
                self.secrets[(meta.get("namespace", "default"), meta["name"])] = manifest
            elif manifest.get("kind") == "Role":
                self.roles[(meta.get("namespace", "default"), meta["name"])] = manifest.get("rules", [])
            elif manifest.get("kind") == "RoleBinding":
                self.bindings.append(manifest)

    def handle(self, method: str, raw_path: str, authorization: str | None, body: Json | None) -> tuple[int, Json]:
        wanted = _rbac_request(method, urlsplit(raw_path).path)
        if wanted is not None and not self._allowed(*wanted):
            namespace, group, resource, verb = wanted
            kind = f"{resource}.{group}" if group else resource
            with self.lock:
                self.requests.append(Recorded(method, urlsplit(raw_path).path, {}, authorization, body))
            return 403, status_object(
                403, "Forbidden", f'{kind} is forbidden: User "optio-function" cannot {verb} resource "{resource}" '
                f'in API group "{group}" in the namespace "{namespace}"', kind=resource, group=group)
        return super().handle(method, raw_path, authorization, body)

    def _allowed(self, namespace: str, group: str, resource: str, verb: str) -> bool:
        with self.lock:
            for binding in self.bindings:
                if binding["metadata"].get("namespace") != namespace or binding["roleRef"]["kind"] != "Role":
                    continue
                if not any(s.get("kind") == "Group" and s.get("name") in self.groups for s in binding["subjects"]):
                    continue
                for rule in self.roles.get((namespace, binding["roleRef"]["name"]), []):
                    if group in rule.get("apiGroups", []) and resource in rule.get("resources", []) \
                            and verb in rule.get("verbs", []):
                        return True
        return False

    def stop(self) -> None:
        with self.lock:
            running = list(self.processes.values())
        for process in running:
            _signal_group(process, signal.SIGKILL)
        super().stop()

    # --- the Job controller's and kubelet's part --------------------------------------------

    def _create_pod(self, namespace: str, job: Json) -> None:
        super()._create_pod(namespace, job)
        name = job["metadata"]["name"]
        threading.Thread(target=self._kubelet, args=(namespace, name), name=f"kubelet-{name}", daemon=True).start()

    def _delete_job(self, namespace: str, name: str, policy: str | None) -> tuple[int, Json]:
        answer = super()._delete_job(namespace, name, policy)
        process = self.processes.get((namespace, name))
        if answer[0] == 200 and policy in ("Foreground", "Background") and process is not None:
            _signal_group(process, signal.SIGTERM)
            threading.Thread(target=_kill_after_grace, args=(process,), daemon=True).start()
        return answer

    def _kubelet(self, namespace: str, job_name: str) -> None:
        with self.lock:
            [pod] = [p for (ns, _), p in self.pods.items()
                     if ns == namespace and p["metadata"]["labels"].get("job-name") == job_name]
            container = pod["spec"]["containers"][0]
            env, missing = self._environment(namespace, container)
            if missing:
                self.missing_secret_key(job_name, missing[1], namespace, secret=missing[0])
                return
            pod_dir = self.work_dir / job_name
            mounts = {m["mountPath"]: pod_dir / m["name"] for m in container.get("volumeMounts", [])}
            for path in mounts.values():
                path.mkdir(parents=True, exist_ok=True)
            env = {k: _local_path(v, mounts) for k, v in env.items()}
            home = pod_dir / "home"
            home.mkdir(parents=True, exist_ok=True)
            with open(pod_dir / "runner.log", "ab") as log:
                process = subprocess.Popen(
                    [sys.executable, "-m", "optio_runner"], cwd=_local_path(container.get("workingDir", "/"), mounts),
                    env={**self.image_env, "HOME": str(home), "PYTHONPATH": str(RUNNER_IMAGE), **env},
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            self.processes[(namespace, job_name)] = process
            self.run_pod(job_name, namespace)
        code = process.wait()
        _signal_group(process, signal.SIGKILL)  # whatever the runner left behind goes with the pod
        with self.lock:
            if (namespace, job_name) not in self.jobs:
                return  # deleted: its pod went with it
            if code == 0:
                self.succeed_pod(job_name, namespace)
            else:
                self.fail_pod(job_name, exit_code=code if code > 0 else 128 - code, namespace=namespace)

    def _environment(self, namespace: str, container: Json) -> tuple[dict[str, str], tuple[str, str] | None]:
        """The container's variables, or the first required (Secret, key) that is missing."""
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            ref = source.get("secretRef")
            if ref is None:
                continue
            data = self._secret_data(namespace, ref["name"])
            if data is None and not ref.get("optional"):
                return {}, (ref["name"], "")
            env.update(data or {})
        for variable in container.get("env", []):
            if "value" in variable:
                env[variable["name"]] = variable["value"]
                continue
            ref = variable.get("valueFrom", {}).get("secretKeyRef")
            if ref is None:
                continue
            value = (self._secret_data(namespace, ref["name"]) or {}).get(ref["key"])
            if value is None:
                if ref.get("optional"):
                    continue
                return {}, (ref["name"], ref["key"])
            env[variable["name"]] = value
        return env, None

    def _secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        secret = self.secrets.get((namespace, name))
        if secret is None:
            return None
        data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
        return {**data, **(secret.get("stringData") or {})}


_VERBS = {("POST", False): "create", ("GET", True): "get", ("GET", False): "list", ("PUT", True): "update",
          ("DELETE", True): "delete"}


def _rbac_request(method: str, path: str) -> tuple[str, str, str, str] | None:
    """(namespace, API group, resource, verb) of a namespaced request; None for anything else."""
    match = re.match(r"^/(?:apis/(?P<group>[^/]+)/[^/]+|api/v1)/namespaces/(?P<ns>[^/]+)/(?P<res>[^/]+)(?P<one>/[^/]+)?$",
                     path)
    if match is None or (method, bool(match["one"])) not in _VERBS:
        return None
    return match["ns"], match["group"] or "", match["res"], _VERBS[(method, bool(match["one"]))]


def _local_path(value: Any, mounts: dict[str, Path]) -> str:
    text = str(value)
    for mount, local in mounts.items():
        if text == mount or text.startswith(mount.rstrip("/") + "/"):
            return str(local) + text[len(mount.rstrip("/")):]
    return text


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


def _kill_after_grace(process: subprocess.Popen[bytes]) -> None:
    try:
        process.wait(timeout=GRACE_S)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
