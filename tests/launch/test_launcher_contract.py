"""The AgentLauncher contract, the same for the local launcher and the Kubernetes launcher:
idempotent launch, status from start to finish, cancel that stops the agent and never fails."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

from chalicelib.core.failures import FailureKind, Retry
from chalicelib.core.reconcile import PodPhase, PodStatus
from chalicelib.launch import AgentLauncher, LaunchSpec
from chalicelib.launch.k8s_job import job_name
from chalicelib.launch.kubernetes import KubernetesLauncher
from tests.fakes.kubernetes_api import FakeKubernetes
from tests.support.waiting import wait_for

from .support import LocalHarness


class Driver(Protocol):
    """What the platform under a launcher does on its own: start the agent, let it exit."""

    launcher: AgentLauncher

    def agents(self, task_id: str, attempt: int) -> int: ...

    def start(self, task_id: str, attempt: int) -> None: ...

    def finish(self, task_id: str, attempt: int, exit_code: int) -> None: ...

    def stopped(self, task_id: str, attempt: int) -> bool: ...


@dataclass
class LocalDriver:
    harness: LocalHarness

    @property
    def launcher(self) -> AgentLauncher:
        return self.harness.launcher

    def agents(self, task_id: str, attempt: int) -> int:
        return self.harness.starts(task_id, attempt)

    def start(self, task_id: str, attempt: int) -> None:
        wait_for(lambda: self.agents(task_id, attempt), what="the stand-in runner to start")

    def finish(self, task_id: str, attempt: int, exit_code: int) -> None:
        self.harness.finish(task_id, attempt, exit_code)

    def stopped(self, task_id: str, attempt: int) -> bool:
        starts = self.harness.starts_file(task_id, attempt).read_text().split()
        return not any(_alive(int(pid)) for pid in starts)


@dataclass
class KubernetesDriver:
    launcher: KubernetesLauncher
    cluster: FakeKubernetes

    def agents(self, task_id: str, attempt: int) -> int:
        name = job_name(task_id, attempt)
        jobs = 1 if self.cluster.job(name) is not None else 0
        return jobs * len(self.cluster.pods_of(name))

    def start(self, task_id: str, attempt: int) -> None:
        self.cluster.run_pod(job_name(task_id, attempt))

    def finish(self, task_id: str, attempt: int, exit_code: int) -> None:
        name = job_name(task_id, attempt)
        if exit_code == 0:
            self.cluster.succeed_pod(name)
        else:
            self.cluster.fail_pod(name, exit_code=exit_code)

    def stopped(self, task_id: str, attempt: int) -> bool:
        name = job_name(task_id, attempt)
        return self.cluster.job(name) is None and not self.cluster.pods_of(name)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture(params=["local", "kubernetes"])
def driver(request: pytest.FixtureRequest) -> Driver:
    if request.param == "local":
        return LocalDriver(request.getfixturevalue("local"))
    return KubernetesDriver(request.getfixturevalue("k8s"), request.getfixturevalue("cluster"))


def spec(attempt: int = 1) -> LaunchSpec:
    return LaunchSpec(execution_id=str(uuid.uuid4()), attempt=attempt,
                      environment={"OPTIO_TASK_ID": "t", "OPTIO_PROMPT": "p"})


def status_is(driver: Driver, given: LaunchSpec, phase: PodPhase) -> PodStatus | None:
    status = driver.launcher.status(given.execution_id, given.attempt)
    return status if status.phase is phase else None


def test_launching_twice_starts_one_agent(driver: Driver) -> None:
    given = spec()
    driver.launcher.launch(given)
    driver.launcher.launch(given)
    driver.start(given.execution_id, given.attempt)

    driver.finish(given.execution_id, given.attempt, 0)
    wait_for(lambda: status_is(driver, given, PodPhase.SUCCEEDED), what="success")
    assert driver.agents(given.execution_id, given.attempt) == 1


def test_status_follows_the_agent_to_success(driver: Driver) -> None:
    given = spec()
    driver.launcher.launch(given)
    assert driver.launcher.status(given.execution_id, given.attempt).alive

    driver.start(given.execution_id, given.attempt)
    wait_for(lambda: status_is(driver, given, PodPhase.RUNNING), what="running")

    driver.finish(given.execution_id, given.attempt, 0)
    done = wait_for(lambda: status_is(driver, given, PodPhase.SUCCEEDED), what="success")
    assert not done.alive and done.reason is None


def test_status_reports_a_failed_agent_with_its_exit_code(driver: Driver) -> None:
    given = spec()
    driver.launcher.launch(given)
    driver.start(given.execution_id, given.attempt)

    driver.finish(given.execution_id, given.attempt, 3)
    failed = wait_for(lambda: status_is(driver, given, PodPhase.FAILED), what="failure")
    assert failed.reason == "crash" and FailureKind.CRASH.retry is Retry.RETRIED
    assert failed.message is not None and "exited with code 3" in failed.message


def test_attempts_are_separate(driver: Driver) -> None:
    first = spec(attempt=1)
    second = LaunchSpec(execution_id=first.execution_id, attempt=2, environment=first.environment)
    driver.launcher.launch(first)
    driver.launcher.launch(second)
    driver.start(first.execution_id, 1)
    driver.start(first.execution_id, 2)

    driver.finish(first.execution_id, 1, 3)
    wait_for(lambda: status_is(driver, first, PodPhase.FAILED), what="the first attempt to fail")
    assert driver.launcher.status(first.execution_id, 2).alive
    assert (driver.agents(first.execution_id, 1), driver.agents(first.execution_id, 2)) == (1, 1)


def test_cancel_stops_the_agent(driver: Driver) -> None:
    given = spec()
    driver.launcher.launch(given)
    driver.start(given.execution_id, given.attempt)
    wait_for(lambda: status_is(driver, given, PodPhase.RUNNING), what="running")

    driver.launcher.cancel(given.execution_id, given.attempt)

    assert not driver.launcher.status(given.execution_id, given.attempt).alive
    assert driver.stopped(given.execution_id, given.attempt)
    driver.launcher.cancel(given.execution_id, given.attempt)  # again: still fine


def test_an_unknown_attempt_is_not_found_and_cancelling_it_is_fine(driver: Driver) -> None:
    task_id = str(uuid.uuid4())

    driver.launcher.cancel(task_id, 1)

    assert driver.launcher.status(task_id, 1).phase is PodPhase.NOT_FOUND
