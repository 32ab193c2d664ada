"""Lambda gave up on a launch (the launcher's on-failure destination record reached the timer
function): the executor fails that attempt as `launch_failed` if it is still waiting for its
agent, and leaves any other attempt to the reconciler. In this process, against DynamoDB Local."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from chalicelib.core.states import State
from chalicelib.core.timefmt import iso
from chalicelib.engine import executor
from chalicelib.store import executions
from chalicelib.store.tables import create_all

pytestmark = pytest.mark.xdist_group("in-process")
WHY = "the launch waited in Lambda's queue past its maximum age and was dropped"


@pytest.fixture(scope="module", autouse=True)
def tables() -> None:
    create_all()


def launched_task(attempt: int) -> str:
    """A repo task whose attempt's launch was requested and whose agent has not started."""
    task_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    executions.create({
        "id": task_id, "state": State.PROVISIONING.value, "title": "t", "prompt": "p",
        "repoId": f"repo-{task_id[:8]}", "repoUrl": "https://github.com/acme/launch", "repoBranch": "main",
        "branchName": f"optio/t-{task_id[:8]}", "agentType": "claude-code", "attempt": attempt,
        "maxRetries": 0, "launchedAt": iso(now)}, now)
    return task_id


def test_the_attempt_waiting_for_its_launch_fails_as_launch_failed() -> None:
    task_id = launched_task(attempt=1)
    executor.launch_failed(task_id, 1, WHY)
    row = executions.get(task_id)
    assert (row.state, row.errorKind) == (State.FAILED.value, "launch_failed")
    assert WHY in str(row.errorMessage)


def test_a_record_for_an_earlier_attempt_does_not_fail_the_current_one_as_a_launch() -> None:
    task_id = launched_task(attempt=2)
    executor.launch_failed(task_id, 1, WHY)
    assert executions.get(task_id).errorKind != "launch_failed"


def test_a_record_for_an_execution_that_is_gone_decides_nothing() -> None:
    assert executor.launch_failed(str(uuid.uuid4()), 1, WHY) == []
