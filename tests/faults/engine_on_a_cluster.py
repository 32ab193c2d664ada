"""The engine on the Kubernetes stand-in, for the fault tests that need the Kubernetes launcher.

The executor takes its launcher from the settings, read at import, and this test process runs
with the local launcher. So the engine's side of such a test (`executor.reconcile`, from one or
more threads at once) runs in a fresh Python process whose settings pick the Kubernetes launcher
on the stand-in's kubeconfig, against this process's DynamoDB Local and tables; the test writes
and reads the rows here. Faults come in at the boundary: the stand-in can hold requests until
several have arrived (so two reconcilers are known to have read the same version) or run a
second writer while it answers one.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.conftest import REPO_ROOT
from tests.fakes.kubernetes_api import FakeKubernetes, Json

# Long enough for a loaded 2-core machine; it only costs time when a test fails anyway.
HOLD_S = 60.0

RECONCILERS = """
import json, sys, threading, traceback
from chalicelib.engine import executor
from chalicelib.launch import get_launcher

assert type(get_launcher()).__name__ == "KubernetesLauncher", get_launcher()
execution_id, count = sys.argv[1], int(sys.argv[2])
start = threading.Barrier(count)
taken, errors = {}, []

def reconcile(name):
    start.wait()
    try:
        taken[name] = [[type(a).__name__, a.reason] for a in executor.reconcile(execution_id)]
    except BaseException:
        errors.append(traceback.format_exc())

threads = [threading.Thread(target=reconcile, args=(str(i),)) for i in range(count)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print("RESULT " + json.dumps({"taken": [taken[k] for k in sorted(taken)], "errors": errors}))
"""


@dataclass
class Answered:
    method: str
    path: str
    code: int


@dataclass
class FaultyCluster(FakeKubernetes):
    """The stand-in, recording its answers, able to hold the first `parties` requests matching
    `hold` until they have all arrived, and to run `meanwhile` before answering a matching request."""

    answers: list[Answered] = field(default_factory=list)
    hold: tuple[str, str] | None = None
    parties: int = 2
    meanwhile: tuple[str, str, Callable[[], None]] | None = None
    _arrived: int = 0
    _all_here: threading.Event = field(default_factory=threading.Event)
    _gate: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, method: str, raw_path: str, authorization: str | None, body: Json | None) -> tuple[int, Json]:
        path = urlsplit(raw_path).path
        if self.hold is not None and method == self.hold[0] and re.search(self.hold[1], path):
            with self._gate:
                self._arrived += 1
                if self._arrived >= self.parties:
                    self._all_here.set()
            # Once all have arrived, later requests pass at once.
            self._all_here.wait(HOLD_S)
        if self.meanwhile is not None and method == self.meanwhile[0] and re.search(self.meanwhile[1], path):
            second_writer, self.meanwhile = self.meanwhile[2], None
            second_writer()
        code, payload = super().handle(method, raw_path, authorization, body)
        with self.lock:
            self.answers.append(Answered(method, path, code))
        return code, payload

    def hold_next(self, method: str, pattern: str, parties: int = 2) -> None:
        """Hold the next `parties` requests matching until all of them have come."""
        with self._gate:
            self._arrived, self.parties, self.hold = 0, parties, (method, pattern)
            self._all_here.clear()

    def answered(self, method: str, pattern: str) -> list[int]:
        with self.lock:
            return [a.code for a in self.answers if a.method == method and re.search(pattern, a.path)]

    @property
    def held_all(self) -> bool:
        return self._all_here.is_set()


def engine_env(cluster: FakeKubernetes, tmp: Path, **settings: str) -> dict[str, str]:
    kubeconfig = tmp / f"kubeconfig-{uuid.uuid4().hex[:6]}"
    kubeconfig.write_text(json.dumps(cluster.kubeconfig()))  # JSON is YAML
    env = {**os.environ, "OPTIO_LAUNCHER": "kubernetes", "OPTIO_K8S_AUTH": "kubeconfig",
           "OPTIO_KUBECONFIG": str(kubeconfig), "OPTIO_RUNNER_IMAGE": "optio-runner:test",
           "OPTIO_K8S_NAMESPACE": "optio", **settings}
    env.pop("OPTIO_LAUNCHER_FUNCTION", None)
    return env


@dataclass
class Reconciled:
    taken: list[list[list[str]]]
    errors: list[str]

    def first_decisions(self) -> list[str]:
        return [steps[0][0] for steps in self.taken if steps]


def reconcile_on_cluster(cluster: FakeKubernetes, tmp: Path, execution_id: str, reconcilers: int = 1,
                         **settings: str) -> Reconciled:
    """`executor.reconcile(execution_id)` from `reconcilers` threads released at once, in a
    process whose launcher is the Kubernetes launcher on `cluster` (and with `settings` in its
    environment)."""
    done = subprocess.run([sys.executable, "-c", RECONCILERS, execution_id, str(reconcilers)], cwd=REPO_ROOT,
                          env=engine_env(cluster, tmp, **settings), capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    [line] = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    result = json.loads(line.removeprefix("RESULT "))
    return Reconciled(result["taken"], result["errors"])


def new_repo_task(state: str = "queued", **fields: Any) -> str:
    """A repo task of a repository of its own (so its scope's slot counter is its own), as the API
    creates it, in `state`."""
    from chalicelib.core.naming import branch_name
    from chalicelib.services.repos import register_repo
    from chalicelib.store import executions

    repo = register_repo({"repoUrl": f"https://github.com/acme/faults-{uuid.uuid4().hex[:10]}",
                          "maxConcurrentTasks": 5})
    task_id = str(uuid.uuid4())
    executions.create({
        "id": task_id, "type": "repo-task", "state": state, "title": "Fault", "prompt": "write it",
        "repoId": repo.id, "repoUrl": repo.repoUrl, "repoBranch": "main", "agentType": "claude-code",
        "branchName": branch_name("Fault", task_id), "maxRetries": 3, **fields,
    }, datetime.now(UTC))
    return task_id


def take_slot(task_id: str) -> None:
    """What the dispatcher does for a queued task: queued -> provisioning, attempt + 1, with its slots."""
    from chalicelib.core.dispatch import SlotLimits
    from chalicelib.core.states import State
    from chalicelib.store import executions

    executions.transition(executions.get(task_id), State.PROVISIONING, trigger="dispatcher",
                          message="concurrency slot taken", now=datetime.now(UTC), limits=SlotLimits(10_000, 5))


def slots_of(task_id: str) -> tuple[int, int]:
    """The repo tasks' global slot counter and the task's repository's."""
    from chalicelib.core.states import ExecutionKind
    from chalicelib.store import executions

    scope = executions.scope_of(executions.get(task_id))
    global_used, scope_used = executions.slot_usage(ExecutionKind.REPO_TASK, {scope})
    return global_used, scope_used[scope]


def states_of(task_id: str) -> list[str]:
    from chalicelib.store import executions

    return [str(e.toState) for e in executions.events(task_id)]


def put_away(task_id: str) -> None:
    """Cancel the task, giving back any slot it holds (a failed one: no retry left), so that no
    engine that runs on these tables later (a resync of another test) picks it up."""
    from chalicelib.core.states import State, can_transition
    from chalicelib.store import executions

    row = executions.get(task_id)
    if can_transition(executions.kind_of(row), State(row.state), State.CANCELLED):
        executions.transition(row, State.CANCELLED, trigger="test", message="put away", now=datetime.now(UTC))
    elif row.state == State.FAILED.value:
        executions.update(row, {"retryable": False}, datetime.now(UTC))



def launch_and_start(cluster: FakeKubernetes, tmp: Path, task_id: str) -> str:
    """What happens to a queued task until its agent works: the dispatcher takes its slot, the
    engine launches the attempt's Job on `cluster`, kubelet runs the pod and the runner reports its
    start. Returns the Job's name."""
    from chalicelib.core.states import ExecutionKind
    from chalicelib.core.tokens import run_token
    from chalicelib.engine.credentials import run_token_secret
    from chalicelib.launch.k8s_job import job_name
    from chalicelib.services import runner_channel
    from chalicelib.store import executions

    take_slot(task_id)
    attempt = int(executions.get(task_id).attempt)
    launched = reconcile_on_cluster(cluster, tmp, task_id)
    assert launched.errors == [] and launched.first_decisions() == ["Launch"], launched.taken
    job = job_name(task_id, attempt)
    cluster.run_pod(job)
    token = run_token(run_token_secret(), task_id, attempt)
    runner_channel.handle(ExecutionKind.REPO_TASK, task_id, token, {"kind": "started", "attempt": attempt})
    assert executions.get(task_id).state == "running"
    return job


def job_env(cluster: FakeKubernetes, job: str) -> dict[str, str]:
    """The plain environment variables of the Job's runner container, as the launcher wrote them."""
    manifest = cluster.job(job)
    assert manifest is not None, job
    [container] = manifest["spec"]["template"]["spec"]["containers"]
    return {var["name"]: var["value"] for var in container["env"] if "value" in var}
