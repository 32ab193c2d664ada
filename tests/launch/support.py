"""Helpers of the launcher tests: job settings for tests, the Kubernetes launcher on a kubeconfig,
and the local launcher's stand-in runner."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chalicelib.launch.k8s_client import ClusterAccess
from chalicelib.launch.k8s_job import JobSettings
from chalicelib.launch.kubernetes import KubernetesLauncher
from chalicelib.launch.local import LocalLauncher

STAND_IN_RUNNER = Path(__file__).parents[1] / "fakes" / "stand_in_runner.py"
JOBS = JobSettings(namespace="optio", image="optio-runner:test", service_account="optio-runner",
                   deadline_s=3600, ttl_s=600, schedule_timeout_s=300)


def kubernetes_launcher(kubeconfig: Path, jobs: JobSettings = JOBS) -> KubernetesLauncher:
    return KubernetesLauncher(jobs, ClusterAccess(auth="kubeconfig", region="us-east-1",
                                                  kubeconfig=str(kubeconfig)))


@dataclass
class LocalHarness:
    launcher: LocalLauncher
    work_dir: Path

    def workspace(self, task_id: str, attempt: int) -> Path:
        return self.work_dir / f"{task_id}-{attempt}"

    def starts_file(self, task_id: str, attempt: int) -> Path:
        """The stand-in runner's pids, kept beside the workspace: that goes when the runner exits."""
        return self.work_dir / f"{task_id}-{attempt}.starts"

    def starts(self, task_id: str, attempt: int) -> int:
        starts = self.starts_file(task_id, attempt)
        return len(starts.read_text().splitlines()) if starts.exists() else 0

    def finish(self, task_id: str, attempt: int, exit_code: int) -> None:
        (self.workspace(task_id, attempt) / "exit-code").write_text(str(exit_code))
