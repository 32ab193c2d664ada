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
from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path

from chalicelib.core.reconcile import PodPhase, PodStatus
from chalicelib.settings import settings

from .base import LaunchSpec, WarmPodSpec

RUNNER_DIR = Path(__file__).resolve().parents[2] / "runner-image"
KILL_GRACE_S = 1.0
# How long a shutdown waits for a stopped attempt's workspace to be removed.
CLEAN_UP_WAIT_S = 10.0


# The runner starts from an allow-list of the server's environment, never from all of it: that
# holds the server's keys (OPTIO_API_TOKEN, OPTIO_SECRETS_KEY, OPTIO_RUN_TOKEN_SECRET, AWS
# credentials), and the agent runs arbitrary code with whatever the runner passes on.
_SYSTEM = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "TZ", "TMPDIR", "LANG", "LANGUAGE",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
})
# The runner's own settings, and git's (the runner runs git as the developer does locally).
_RUNNER = frozenset({"OPTIO_LOG_FLUSH_MS"})
# The agent CLIs' keys as a developer's shell holds them (README: `claude` with ANTHROPIC_API_KEY
# in your environment); Optio's stored secrets come with the spec.
_AGENT = frozenset({"GITHUB_TOKEN", "GH_TOKEN"})
_PREFIXES = ("LC_", "OPTIO_AGENT_BIN_", "GIT_", "ANTHROPIC_", "CLAUDE_", "OPENAI_", "CODEX_", "GEMINI_", "GOOGLE_",
             "COPILOT_", "OPENCODE_")
# Never passed, whatever OPTIO_AGENT_PASS_ENV names.
SERVER_KEYS = frozenset({"OPTIO_API_TOKEN", "OPTIO_SECRETS_KEY", "OPTIO_RUN_TOKEN_SECRET", "OPTIO_SETUP_TOKEN"})


def runner_base_environment(server_env: Mapping[str, str], extra: Iterable[str]) -> dict[str, str]:
    """What of the server's environment a runner (and through it the agent) gets."""
    wanted = _SYSTEM | _RUNNER | _AGENT | set(extra)
    return {name: value for name, value in server_env.items()
            if (name in wanted or name.startswith(_PREFIXES)) and name not in SERVER_KEYS}


class LocalLauncher:
    name = "local"
    # The runner enforces "none" itself (a network namespace for the agent), whichever process runs it.
    warm_networks = frozenset({"none", "internet", "allow"})
    # It knows every process it started: one it does not know is gone.
    warm_start_grace = timedelta(0)

    def __init__(self, work_dir: str, python: str | None = None) -> None:
        self._work_dir = Path(work_dir)
        self._python = python or sys.executable
        self._lock = threading.Lock()
        self._procs: dict[tuple[str, int], subprocess.Popen[bytes]] = {}
        # Warm runners by pod id: each waits for work, then runs the attempt handed to it.
        self._warm: dict[str, subprocess.Popen[bytes]] = {}
        self._cleaners: list[threading.Thread] = []

    def launch(self, spec: LaunchSpec) -> None:
        key = (spec.execution_id, spec.attempt)
        with self._lock:
            if key in self._procs:
                return
            # "none" is enforced here by the runner (the agent in a loopback-only network
            # namespace); "internet" and an allow list are not enforced locally (README).
            self._procs[key] = self._spawn(f"{spec.execution_id}-{spec.attempt}",
                                           {**spec.secrets, **spec.environment, "OPTIO_AGENT_NETWORK": spec.network})

    def start_warm(self, spec: WarmPodSpec) -> None:
        with self._lock:
            if spec.pod_id not in self._warm:
                self._warm[spec.pod_id] = self._spawn(f"warm-{spec.pod_id}", dict(spec.environment))

    def _spawn(self, name: str, given: Mapping[str, str]) -> subprocess.Popen[bytes]:
        """The runner in workspace `name`, with the allowed part of the server's environment and
        `given`; its workspace goes when it exits."""
        workspace = self._work_dir / name
        workspace.mkdir(parents=True, exist_ok=True)
        env = {**runner_base_environment(os.environ, settings.agent_pass_env), **given}
        env["OPTIO_WORKSPACE"] = str(workspace)
        env["PYTHONPATH"] = str(RUNNER_DIR)
        with open(workspace / "runner.log", "ab") as log:
            proc = subprocess.Popen(
                [self._python, "-m", "optio_runner"],
                cwd=workspace,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._clean_up_after(proc, workspace)
        return proc

    def status(self, execution_id: str, attempt: int) -> PodStatus:
        with self._lock:
            proc = self._procs.get((execution_id, attempt))
        return _status(proc)

    def warm_status(self, pod_id: str) -> PodStatus:
        with self._lock:
            proc = self._warm.get(pod_id)
        return _status(proc)

    def cancel(self, execution_id: str, attempt: int) -> None:
        with self._lock:
            proc = self._procs.get((execution_id, attempt))
        _stop(proc)

    def stop_warm(self, pod_id: str) -> None:
        with self._lock:
            proc = self._warm.get(pod_id)
        _stop(proc)

    def wake_warm(self, pod_id: str) -> None:
        """SIGURG to the runner alone (its agent, once there is one, is not signalled): a signal
        ignored by default, so a runner still starting, before it listens, is not killed by it (its
        first ask finds the attempt)."""
        with self._lock:
            proc = self._warm.get(pod_id)
        if proc is not None and proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGURG)
            except ProcessLookupError:
                pass

    def shutdown(self) -> None:
        with self._lock:
            procs = [*self._procs.values(), *self._warm.values()]
        for proc in procs:
            _stop(proc)
        with self._lock:
            cleaners = list(self._cleaners)
        for cleaner in cleaners:
            cleaner.join(timeout=CLEAN_UP_WAIT_S)

    def _clean_up_after(self, proc: subprocess.Popen[bytes], workspace: Path) -> None:
        cleaner = threading.Thread(target=_clean_up, args=(proc, workspace), name=f"clean-{workspace.name}",
                                   daemon=True)
        self._cleaners.append(cleaner)
        cleaner.start()


def _status(proc: subprocess.Popen[bytes] | None) -> PodStatus:
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


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
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
