"""The Kubernetes stand-in with a kubelet: each Job it is given gets a pod that runs the runner
image's program (`python -m optio_runner` from runner-image/) as a process, with the container's
environment as Kubernetes builds it (envFrom, then env; `secretKeyRef`s read from the cluster's
Secrets, a missing required key leaving the pod in CreateContainerConfigError as kubelet does) and
its volumes as directories. The pod runs while the process does, then succeeds or fails with its
exit code; deleting the Job stops the process group (SIGTERM, then SIGKILL after the grace period).
"""
from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import REPO_ROOT
from tests.fakes.kubernetes_api import FakeKubernetes, Json

RUNNER_IMAGE = REPO_ROOT / "runner-image"
# terminationGracePeriodSeconds is 30 s by default; the stand-in's agents stop well within 5 s.
GRACE_S = 5.0


@dataclass
class PodRunningCluster(FakeKubernetes):
    work_dir: Path = Path("/nonexistent")
    # What the runner image bakes in: its PATH, its agents (here the stand-in CLIs), its HOME.
    image_env: dict[str, str] = field(default_factory=dict)
    processes: dict[tuple[str, str], subprocess.Popen[bytes]] = field(default_factory=dict)

    def apply(self, manifest: Json) -> None:
        """What `kubectl apply` of the template's manifests leaves that the stand-in models."""
        with self.lock:
            meta = manifest.get("metadata", {})
            if manifest.get("kind") == "Namespace":
                self.namespaces.add(meta["name"])
            elif manifest.get("kind") == "Secret":
                self.secrets[(meta.get("namespace", "default"), meta["name"])] = manifest

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
