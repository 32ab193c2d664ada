"""The conformance suite: the real agent CLIs, at the versions the runner image pins, run through
the whole system in local mode against scripted stand-ins of their vendors' APIs.

`make test` installs the CLIs into .deps/agents and runs the suite in a network namespace with
loopback only (tests/offline), so a CLI that ignores its base URL fails instead of reaching out.
Each test module starts one local mode (`agent_system`), shared by its tests.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tests.runner.conftest import RUNNER_IMAGE  # noqa: F401  (the runner package importable, as in its image)
from tests.support.gitrepo import branch_file, make_bare_repo
from tests.support.localmode import LocalMode, start_local_mode

AGENT_VERSIONS = REPO_ROOT / "runner-image" / "agent-versions.txt"
# Importable once tests.runner.conftest has put the runner package on the path (as in its image).
from optio_runner.agents.base import AgentAdapter, AgentContext, AgentResult, Collected  # noqa: E402

AGENT_BIN = REPO_ROOT / ".deps" / "agents" / "node_modules" / ".bin"
# What a task given to a real CLI may take on a loaded 2-core machine, start to finish.
TASK_TIMEOUT_S = 120
# The pod's user (runner-image/Dockerfile): local mode and CI run the runner as root instead.
POD_UID = 1000


@dataclass(frozen=True)
class AgentVersion:
    agent_type: str
    package: str
    version: str


def agent_versions() -> dict[str, AgentVersion]:
    versions = {}
    for line in AGENT_VERSIONS.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            agent_type, package, version = line.split()
            versions[agent_type] = AgentVersion(agent_type, package, version)
    return versions


def offline() -> bool:
    """Loopback is this network namespace's only interface."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


def cli_path(binary: str) -> Path:
    """The installed CLI; outside `make test` (no install, or a network) the suite is skipped,
    under CI it fails."""
    path = AGENT_BIN / binary
    problem = None
    if not path.exists():
        problem = f"{path} is not installed (make test installs the pinned agent CLIs)"
    elif not offline():
        problem = "the agent CLIs run only offline: run the suite through tests/offline (make test does)"
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    return path


@dataclass
class AgentSystem:
    """Local mode with one agent type's real CLI, a bare git repository registered as a repo."""

    mode: LocalMode
    repo: Path
    agent_type: str

    @property
    def api(self) -> Any:
        return self.mode.api

    def set_secret(self, name: str, value: str) -> None:
        # PUT /api/secrets/:name: 201 when new, 200 when it replaces the value.
        response = self.api.request("PUT", f"/api/secrets/{name}", json={"value": value})
        assert response.status_code in (200, 201), (response.status_code, response.text)

    def create_task(self, prompt: str, **fields: Any) -> dict[str, Any]:
        body = {"title": prompt.splitlines()[0][:60], "prompt": prompt, "repoUrl": str(self.repo),
                "agentType": self.agent_type, **fields}
        task: dict[str, Any] = self.api.ok("POST", "/api/tasks", body, status=201)
        return task

    def wait(self, task_id: str, states: set[str] | str) -> dict[str, Any]:
        task: dict[str, Any] = self.api.wait_state(task_id, states, timeout_s=TASK_TIMEOUT_S)
        return task

    def logs(self, task_id: str) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = self.api.logs(task_id)
        return lines

    def on_branch(self, task: dict[str, Any], path: str) -> str | None:
        return branch_file(self.repo, task["branchName"], path)


def start_agent_system(tmp: Path, agent_type: str, binary: str, **env: str) -> AgentSystem:
    path = cli_path(binary)
    variable = "OPTIO_AGENT_BIN_" + agent_type.upper().replace("-", "_")
    mode = start_local_mode(tmp, **{variable: str(path), **env})
    return AgentSystem(mode, make_bare_repo(tmp), agent_type)


@pytest.fixture(scope="module")
def agent_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("agents")


def at(stamp: str) -> datetime:
    """An API timestamp, to set against a stand-in's recorded request times."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def task_events(system: AgentSystem, task_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = system.api.ok("GET", f"/api/tasks/{task_id}/events")["items"]
    return items


@dataclass
class PodRun:
    """One run of a CLI as the pod's user: where it worked, and what its adapter made of it."""

    work: Path
    home: Path
    env: dict[str, str]
    result: AgentResult
    collected: Collected
    stderr: str


@contextmanager
def as_pod_user(adapter: AgentAdapter, binary: str, env: Mapping[str, str], *, prompt: str = "Write POD.md",
                model: str | None = None) -> Iterator[PodRun]:
    """Runs the CLI as the runner would set it up, but as uid 1000 (as in the pod), in a fresh git
    checkout and HOME under /tmp (pytest's own directories only root may enter); both are gone
    when the block ends."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run the CLI as the pod's uid")
    base = Path(tempfile.mkdtemp(prefix="optio-pod-user-"))
    try:
        work, home = base / "repo", base / "home"
        work.mkdir()
        home.mkdir()
        subprocess.run(["git", "init", "-q", str(work)], check=True)
        ctx = AgentContext(prompt=prompt, max_turns=10, model=model, resume_session_id=None, binary=binary,
                           custom_command=None, home=home, work_dir=work, as_root=False)
        argv = adapter.build_command(ctx)
        for relative, text in adapter.config_files(ctx).items():
            (home / relative).parent.mkdir(parents=True, exist_ok=True)
            (home / relative).write_text(text)
        subprocess.run(["chown", "-R", f"{POD_UID}:{POD_UID}", str(base)], check=True)
        base.chmod(0o755)
        full_env = {"PATH": os.environ["PATH"], "HOME": str(home), **env, **adapter.environment(ctx)}
        ran = subprocess.run(["setpriv", f"--reuid={POD_UID}", f"--regid={POD_UID}", "--clear-groups", *argv],
                             cwd=work, env=full_env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=TASK_TIMEOUT_S)
        collected = Collected()
        for line in ran.stdout.splitlines():
            collected.absorb(adapter.parse_line(line))
        yield PodRun(work, home, full_env, adapter.finish(ran.returncode, collected), collected, ran.stderr[-2000:])
    finally:
        shutil.rmtree(base, ignore_errors=True)
