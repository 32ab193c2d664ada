"""Timers on time, as deployed: with every EventBridge rule disabled (no resync to fall back on), a
failed run's automatic retry is woken by the timers state machine at the second its backoff
ends, through the template's state machine definition and the timer function; and the same
wake-up asked for twice is one workflow."""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import boto3
import pytest

from chalicelib.core.reconcile import retry_delay
from chalicelib.core.timefmt import iso
from chalicelib.engine.timers import StepFunctionsTimers, fire_time
from tests.support.api import Api
from tests.support.waiting import wait_for

from .deployment import CREDENTIALS, Deployment
from .template import REGION

pytestmark = pytest.mark.xdist_group("topology")


@pytest.fixture()
def no_schedules(deployed: Deployment) -> Iterator[None]:
    schedules = deployed.schedules()
    assert {s.function.name for s in schedules} >= {"optio-dev-resync"}
    for schedule in schedules:
        schedule.disable()
    try:
        yield
    finally:
        for schedule in schedules:
            schedule.enable()


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_a_retry_is_woken_by_the_timers_state_machine(deployed: Deployment, no_schedules: None) -> None:
    assert deployed.step_functions is not None
    [machine] = deployed.step_functions.machines
    assert {e["OPTIO_TIMERS_STATE_MACHINE_ARN"] for n, e in deployed.environments.items() if n != "Launcher"} == {machine}
    resync = deployed.function("optio-dev-resync")
    resyncs = resync.invocations
    client = Api(deployed.url, deployed.token)
    config = client.ok("POST", "/api/tasks", {"type": "standalone", "name": f"wake {uuid.uuid4().hex[:6]}",
                                              "promptTemplate": "[fake:fail] always breaks", "maxRetries": 1},
                       status=201)
    run_id = client.ok("POST", f"/api/tasks/{config['id']}/runs", {"params": {}}, status=202)["runId"]

    def retried() -> dict[str, object] | None:
        run: dict[str, object] = client.ok("GET", f"/api/workflow-runs/{run_id}")
        return run if run["state"] == "failed" and run["retryCount"] == 1 else None

    run = wait_for(retried, timeout_s=120, interval_s=0.5, what="the run to be woken, retried and fail again")
    assert run["attempt"] == 2
    events = client.ok("GET", f"/api/workflow-runs/{run_id}/events")["items"]
    first_failure = next(e for e in events if e["to"] == "failed")
    assert ("queued", "reconciler", "automatic retry 1 of 1") in [(e["to"], e["trigger"], e["message"]) for e in events]

    # The wake-up that retried it: due at the second after the backoff ended (+1 s), run through
    # the template's Wait state, then the timer function; no rule fired meanwhile.
    due = fire_time(parse(first_failure["at"]) + retry_delay(0))
    wake_ups = [e for e in deployed.step_functions.of(machine) if e.name.startswith(run_id)]
    [retry] = [e for e in wake_ups if json.loads(e.input)["dueAt"] == iso(due)]
    assert retry.name == f"{run_id}-{int(due.timestamp())}" and retry.status == "SUCCEEDED", retry
    [(called_at, function, payload)] = retry.calls
    assert function == "optio-dev-execution-timer" and payload == {"executionId": run_id, "dueAt": iso(due)}
    assert called_at >= due
    assert resync.invocations == resyncs

    # Asked for again once it ran (a late redelivery decides the same): no second workflow, no error.
    sdk = boto3.client("stepfunctions", endpoint_url=deployed.step_functions.url, region_name=REGION,
                       aws_access_key_id="ASIAOPTIOTOPOLOGYTEST",
                       aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    StepFunctionsTimers(sdk, machine).wake_at(run_id, due)
    assert [e.arn for e in deployed.step_functions.of(machine) if e.name == retry.name] == [retry.arn]

def test_the_timer_function_refuses_a_wake_up_without_its_execution(deployed: Deployment) -> None:
    from .aws import FunctionError

    timer = deployed.function("optio-dev-execution-timer")
    with pytest.raises(FunctionError, match="executionId"):
        timer.invoke({"dueAt": iso(fire_time(parse("2026-12-02T10:00:00Z") + timedelta(seconds=1)))})
