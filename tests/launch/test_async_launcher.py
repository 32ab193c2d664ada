"""On AWS the engine hands launches and stops to the launcher Lambda (asynchronous invokes) and
asks the cluster directly for status: here boto3 talks to a loopback Lambda, whose handler is the real
`engine.launching.handle`, which talks to the loopback Kubernetes API."""
from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from chalicelib.core.reconcile import PodPhase, PodStatus
from chalicelib.core.states import ExecutionKind, State
from chalicelib.core.timefmt import iso
from chalicelib.engine import launching
from chalicelib.launch import LaunchSpec
from chalicelib.launch.k8s_job import job_name
from chalicelib.launch.lambda_async import LAUNCH_GRACE, AsyncLambdaLauncher
from chalicelib.store import executions
from chalicelib.store.tables import create_all
from tests.fakes.kubernetes_api import FakeKubernetes
from tests.fakes.lambda_api import FakeLambda
from tests.support.waiting import wait_for

from .support import kubernetes_launcher

FUNCTION = "optio-test-launcher"


@pytest.fixture(scope="module", autouse=True)
def tables() -> None:
    create_all()


@pytest.fixture
def gate() -> threading.Event:
    """Holds the launcher Lambda back until the test opens it, as a busy Lambda would."""
    return threading.Event()


@pytest.fixture
def lambdas(kubeconfig: Path, gate: threading.Event) -> Iterator[FakeLambda]:
    cluster_launcher = kubernetes_launcher(kubeconfig)

    def handler(payload: dict[str, object]) -> object:
        assert gate.wait(20)
        return launching.handle(payload, cluster_launcher)

    fake = FakeLambda(handlers={FUNCTION: handler}).start()
    yield fake
    gate.set()
    fake.stop()


def launcher(kubeconfig: Path, lambdas: FakeLambda, now: datetime | None = None) -> AsyncLambdaLauncher:
    client = boto3.client("lambda", endpoint_url=lambdas.url, region_name="us-east-1")
    clock = (lambda: now) if now is not None else (lambda: datetime.now(UTC))
    return AsyncLambdaLauncher(kubernetes_launcher(kubeconfig), FUNCTION, client, clock=clock)


def provisioning_task(attempt: int = 1, kind: ExecutionKind = ExecutionKind.REPO_TASK) -> str:
    """An execution whose attempt was just launched: a repo task in `provisioning`, or a run of a
    standalone task in `running` (a run's launch state); both launch through the launcher Lambda."""
    task_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    repository = {"repoId": str(uuid.uuid4()), "repoUrl": "file:///nowhere", "repoBranch": "main",
                  "branchName": f"optio/t-{task_id[:8]}", "state": "provisioning"}
    run = {"taskConfigId": str(uuid.uuid4()), "state": "running"}
    executions.create({
        "id": task_id, "type": kind.value, "title": "t", "prompt": "p", "agentType": "claude-code",
        "attempt": attempt, "launchedAt": iso(now), **(repository if kind is ExecutionKind.REPO_TASK else run),
    }, now)
    return task_id


def spec(task_id: str) -> LaunchSpec:
    return LaunchSpec(execution_id=task_id, attempt=1, environment={"OPTIO_TASK_ID": task_id},
                      secrets={"ANTHROPIC_API_KEY": "sk-ant-secret"})


@pytest.mark.parametrize("kind", list(ExecutionKind))
def test_launch_is_an_asynchronous_invoke_and_a_job_not_yet_made_is_pending(
        kubeconfig: Path, lambdas: FakeLambda, cluster: FakeKubernetes, gate: threading.Event,
        kind: ExecutionKind) -> None:
    task_id = provisioning_task(kind=kind)
    engine = launcher(kubeconfig, lambdas)

    engine.launch(spec(task_id))

    [invocation] = lambdas.invocations
    assert invocation.invocation_type == "Event"
    assert invocation.payload["executionId"] == task_id and list(invocation.payload["sealedSecrets"]) == ["ANTHROPIC_API_KEY"]
    assert "sk-ant-secret" not in str(invocation.payload)  # sealed with Optio's secrets key
    assert cluster.job(job_name(task_id, 1)) is None
    assert engine.status(task_id, 1) == PodStatus(PodPhase.PENDING, "launching",
                                                  "the launcher is creating the agent's Job")

    gate.set()
    assert invocation.done.wait(20) and invocation.error is None
    assert cluster.job(job_name(task_id, 1)) is not None
    assert engine.status(task_id, 1) == PodStatus(PodPhase.PENDING)


def test_a_redelivered_launch_creates_one_job(kubeconfig: Path, lambdas: FakeLambda, cluster: FakeKubernetes,
                                              gate: threading.Event) -> None:
    task_id = provisioning_task()
    engine = launcher(kubeconfig, lambdas)
    gate.set()

    engine.launch(spec(task_id))
    engine.launch(spec(task_id))

    assert len(lambdas.invocations) == 2
    for invocation in lambdas.invocations:
        assert invocation.done.wait(20) and invocation.error is None
    assert len(cluster.made("POST", "/jobs$")) == 2
    assert cluster.job(job_name(task_id, 1)) is not None and len(cluster.pods_of(job_name(task_id, 1))) == 1


@pytest.mark.parametrize("kind", list(ExecutionKind))
def test_a_job_still_missing_after_the_grace_is_gone(kubeconfig: Path, lambdas: FakeLambda,
                                                     kind: ExecutionKind) -> None:
    task_id = provisioning_task(kind=kind)
    late = launcher(kubeconfig, lambdas, now=datetime.now(UTC) + LAUNCH_GRACE + timedelta(seconds=1))

    assert late.status(task_id, 1).phase is PodPhase.NOT_FOUND


@pytest.mark.parametrize("attempt", [1, 2])
def test_without_a_recent_launch_of_that_attempt_a_missing_job_is_gone(kubeconfig: Path, lambdas: FakeLambda,
                                                                        attempt: int) -> None:
    task_id = provisioning_task(attempt=2) if attempt == 1 else str(uuid.uuid4())

    assert launcher(kubeconfig, lambdas).status(task_id, attempt).phase is PodPhase.NOT_FOUND


@pytest.mark.parametrize("kind", list(ExecutionKind))
def test_cancel_is_an_asynchronous_invoke_that_deletes_the_job(
        kubeconfig: Path, lambdas: FakeLambda, cluster: FakeKubernetes, gate: threading.Event,
        kind: ExecutionKind) -> None:
    task_id = provisioning_task(kind=kind)
    engine = launcher(kubeconfig, lambdas)
    gate.set()
    engine.launch(spec(task_id))
    assert lambdas.invocations[0].done.wait(20)
    gate.clear()  # the launcher busy: the cancel returns before the Job goes

    engine.cancel(task_id, 1)

    stop = lambdas.invocations[1]
    assert stop.invocation_type == "Event"
    assert stop.payload == {"stop": True, "executionId": task_id, "attempt": 1}
    assert cluster.job(job_name(task_id, 1)) is not None
    gate.set()
    assert stop.done.wait(20) and stop.error is None
    assert cluster.job(job_name(task_id, 1)) is None


def test_a_redelivered_stop_changes_nothing(kubeconfig: Path, lambdas: FakeLambda, cluster: FakeKubernetes,
                                            gate: threading.Event) -> None:
    task_id = provisioning_task()
    engine = launcher(kubeconfig, lambdas)
    gate.set()
    engine.launch(spec(task_id))
    assert lambdas.invocations[0].done.wait(20)

    engine.cancel(task_id, 1)
    engine.cancel(task_id, 1)

    assert len(lambdas.invocations) == 3
    for invocation in lambdas.invocations:
        assert invocation.done.wait(20) and invocation.error is None
    assert cluster.job(job_name(task_id, 1)) is None


@pytest.mark.parametrize("kind", list(ExecutionKind))
def test_an_attempt_that_is_over_waits_for_no_job(kubeconfig: Path, lambdas: FakeLambda, kind: ExecutionKind) -> None:
    # Failed right after its launch (its Job deleted when it was stopped): gone, not "launching",
    # so its retry is not held back for the launch grace.
    task_id = provisioning_task(kind=kind)
    row = executions.get(task_id)
    executions.transition(row, State.FAILED, trigger="runner", message="simulated failure", now=datetime.now(UTC))
    assert launcher(kubeconfig, lambdas).status(task_id, 1).phase is PodPhase.NOT_FOUND


def test_a_launch_that_fails_every_retry_reaches_the_destination_as_lambdas_record(kubeconfig: Path) -> None:
    """The launcher's on-failure destination gets Lambda's invocation record after the event's
    retries (the stand-in follows the function's EventInvokeConfig), and `failed_launch` reads the
    attempt and the last error from it; a wake-up is not such a record."""
    records: list[dict[str, object]] = []
    calls: list[int] = []

    def refusing(payload: dict[str, object]) -> object:
        calls.append(1)
        raise RuntimeError("jobs.batch is forbidden")

    fake = FakeLambda(handlers={FUNCTION: refusing, "optio-test-execution-timer": records.append}).start()
    fake.configs[FUNCTION] = {"MaximumEventAgeInSeconds": 240, "MaximumRetryAttempts": 2, "DestinationConfig": {
        "OnFailure": {"Destination": "arn:aws:lambda:us-east-1:123456789012:function:optio-test-execution-timer"}}}
    try:
        task_id = provisioning_task()
        launcher(kubeconfig, fake).launch(spec(task_id))
        wait_for(lambda: records, timeout_s=30, interval_s=0.05, what="the destination's record")
    finally:
        fake.stop()
    [record] = records
    assert len(calls) == 3  # the invocation and its two retries
    assert record["requestContext"]["condition"] == "RetriesExhausted"  # type: ignore[index]
    assert record["requestContext"]["approximateInvokeCount"] == 3  # type: ignore[index]
    failed = launching.failed_launch(record)
    assert failed is not None and (failed.execution_id, failed.attempt) == (task_id, 1)
    assert "RetriesExhausted" in failed.why and "jobs.batch is forbidden" in failed.why
    assert launching.failed_launch({"executionId": task_id, "dueAt": iso(datetime.now(UTC))}) is None
