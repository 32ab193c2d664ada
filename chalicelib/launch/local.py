"""Agents as local subprocesses: the runner program in a scratch directory, one process group
per attempt so that cancelling kills the agent and everything it started.

Like a pod's emptyDir, an attempt's workspace goes once its runner has exited (the work is on its
branch, the agent's session saved through the API); only the runner's own output stays, as
`<task>-<attempt>.runner.log` beside the workspaces."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from chalicelib.core.reconcile import PodPhase, PodStatus

from .base import LaunchSpec

RUNNER_DIR = Path(__file__).resolve().parents[2] / "runner-image"
KILL_GRACE_S = 1.0
# How long a shutdown waits for a stopped attempt's workspace to be removed.
CLEAN_UP_WAIT_S = 10.0


class LocalLauncher:
    name = "local"

    def __init__(self, work_dir: str, python: str | None = None) -> None:
        self._work_dir = Path(work_dir)
        self._python = python or sys.executable
        self._lock = threading.Lock()
        self._procs: dict[tuple[str, int], subprocess.Popen[bytes]] = {}
        self._cleaners: list[threading.Thread] = []

    def launch(self, spec: LaunchSpec) -> None:
        key = (spec.task_id, spec.attempt)
        with self._lock:
            if key in self._procs:
                return
            workspace = self._work_dir / f"{spec.task_id}-{spec.attempt}"
            workspace.mkdir(parents=True, exist_ok=True)
            env = {**os.environ, **spec.secrets, **spec.environment}
            env["OPTIO_WORKSPACE"] = str(workspace)
            env["PYTHONPATH"] = str(RUNNER_DIR)
            with open(workspace / "runner.log", "ab") as log:
                self._procs[key] = subprocess.Popen(
                    [self._python, "-m", "optio_runner"],
                    cwd=workspace,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self._clean_up_after(self._procs[key], workspace)

    def status(self, task_id: str, attempt: int) -> PodStatus:
        with self._lock:
            proc = self._procs.get((task_id, attempt))
        if proc is None:
            return PodStatus(PodPhase.NOT_FOUND)
        code = proc.poll()
        if code is None:
            return PodStatus(PodPhase.RUNNING)
        if code == 0:
            return PodStatus(PodPhase.SUCCEEDED)
        if code < 0:
            return PodStatus(
                PodPhase.FAILED, "crash", f"the runner was killed by signal {-code}"
            )
        return PodStatus(PodPhase.FAILED, "crash", f"the runner exited with code {code}")

    def cancel(self, task_id: str, attempt: int) -> None:
        with self._lock:
            proc = self._procs.get((task_id, attempt))
        if proc is None:
            return
        if proc.poll() is not None:
            # A runner that was killed leaves its agent behind in its process group.
            _signal_group(proc.pid, signal.SIGKILL)
            return
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()

    def shutdown(self) -> None:
        with self._lock:
            keys = list(self._procs)
        for task_id, attempt in keys:
            self.cancel(task_id, attempt)
        with self._lock:
            cleaners = list(self._cleaners)
        for cleaner in cleaners:
            cleaner.join(timeout=CLEAN_UP_WAIT_S)

    def _clean_up_after(self, proc: subprocess.Popen[bytes], workspace: Path) -> None:
        cleaner = threading.Thread(target=_clean_up, args=(proc, workspace), name=f"clean-{workspace.name}",
                                   daemon=True)
        self._cleaners.append(cleaner)
        cleaner.start()


def _clean_up(proc: subprocess.Popen[bytes], workspace: Path) -> None:
    proc.wait()
    # Anything the runner left in its group would go on writing into the directory being removed.
    _signal_group(proc.pid, signal.SIGKILL)
    log = workspace / "runner.log"
    if log.exists():
        os.replace(log, workspace.parent / f"{workspace.name}.runner.log")
    shutil.rmtree(workspace, ignore_errors=True)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
