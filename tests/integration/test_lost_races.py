"""Lost races, in this process against the session's DynamoDB Local: a writer that finds the row
moved since it read it reads it again and applies what it observed, never drops it."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from chalicelib.core.dispatch import SlotLimits
from chalicelib.core.states import ExecutionKind, State
from chalicelib.engine import dispatcher, executor
from chalicelib.services import webhooks
from chalicelib.store import executions
from chalicelib.store.models import ExecutionModel
from chalicelib.store.tables import create_all

pytestmark = pytest.mark.xdist_group("in-process")
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module", autouse=True)
def tables() -> None:
    create_all()


def pr_opened_task() -> ExecutionModel:
    task_id = str(uuid.uuid4())
    return executions.create({
        "id": task_id, "state": State.PR_OPENED.value, "title": "t", "prompt": "p",
        "repoId": f"repo-{task_id[:8]}", "repoUrl": "https://github.com/acme/raced", "repoBranch": "main",
        "branchName": "optio/raced", "agentType": "claude-code",
        "prUrl": f"https://github.com/acme/raced/pull/{task_id[:4]}", "prNumber": 7,
    }, NOW)


def test_a_merged_pr_seen_on_a_stale_row_still_completes_the_task() -> None:
    stale = pr_opened_task()
    # Somebody else writes the row between the webhook's read and its write.
    executions.update(executions.get(stale.id), {"priority": 5}, NOW)
    assert webhooks._merged(stale, {"merged": True, "head": {"sha": "abc123"}}) is True
    seen = executions.get(stale.id)
    assert (seen.state, seen.prState, seen.priority) == (State.PR_OPENED.value, "merged", 5)
    # The write's stream record wakes the executor, which completes the task.
    executor.reconcile(stale.id)
    assert executions.get(stale.id).state == State.COMPLETED.value


def test_a_merged_pr_of_a_task_that_moved_on_is_not_applied() -> None:
    stale = pr_opened_task()
    executions.transition(executions.get(stale.id), State.CANCELLED, trigger="user", message="cancelled",
                     now=NOW)
    assert webhooks._merged(stale, {"merged": True, "head": {"sha": "abc123"}}) is False
    after = executions.get(stale.id)
    assert (after.state, after.prState) == (State.CANCELLED.value, None)


def queued_task() -> ExecutionModel:
    task = pr_opened_task()
    return executions.update(task, {"state": State.QUEUED.value, "prUrl": None, "queuedAt": task.createdAt}, NOW)


def test_a_queued_task_edited_while_dispatching_still_takes_its_slot() -> None:
    stale = queued_task()
    executions.update(executions.get(stale.id), {"priority": 3}, NOW)
    # Limits no other test's slots reach: this one counts only its own.
    assert dispatcher._take_slot(stale, SlotLimits(10_000, 1)) is True
    started = executions.get(stale.id)
    assert (started.state, started.priority) == (State.PROVISIONING.value, 3)
    executions.transition(started, State.CANCELLED, trigger="test", message="slot back", now=NOW)


def test_a_task_cancelled_while_dispatching_is_skipped() -> None:
    stale = queued_task()
    executions.transition(executions.get(stale.id), State.CANCELLED, trigger="user", message="cancelled", now=NOW)
    assert dispatcher._take_slot(stale, SlotLimits(10_000, 1)) is False
    assert executions.get(stale.id).state == State.CANCELLED.value


def test_a_queued_run_edited_while_dispatching_still_takes_its_slot() -> None:
    stale = executions.create({"id": str(uuid.uuid4()), "type": ExecutionKind.RUN.value, "state": "queued",
                               "title": "r", "agentType": "claude-code", "taskConfigId": str(uuid.uuid4()),
                               "prompt": "p"}, NOW)
    executions.update(executions.get(stale.id), {"prompt": "edited"}, NOW)
    assert dispatcher._take_slot(stale, SlotLimits(10_000, 1)) is True
    started = executions.get(stale.id)
    assert (started.state, started.prompt) == (State.RUNNING.value, "edited")
    executions.transition(started, State.FAILED, trigger="test", message="slot back", now=NOW)
