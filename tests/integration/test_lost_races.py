"""Lost races, in this process against the session's DynamoDB Local: a writer that finds the row
moved since it read it reads it again and applies what it observed, never drops it."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from chalicelib.core.states import TaskState
from chalicelib.core.workflow_runs import RunState
from chalicelib.engine import dispatcher, standalone_runs, webhooks
from chalicelib.store import tasks, workflow_runs
from chalicelib.store.models import TaskModel
from chalicelib.store.tables import create_all

pytestmark = pytest.mark.xdist_group("in-process")
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module", autouse=True)
def tables() -> None:
    create_all()


def pr_opened_task() -> TaskModel:
    task_id = str(uuid.uuid4())
    return tasks.create({
        "id": task_id, "state": TaskState.PR_OPENED.value, "title": "t", "prompt": "p",
        "repoId": f"repo-{task_id[:8]}", "repoUrl": "https://github.com/acme/raced", "repoBranch": "main",
        "branchName": "optio/raced", "agentType": "claude-code",
        "prUrl": f"https://github.com/acme/raced/pull/{task_id[:4]}", "prNumber": 7,
    }, NOW)


def test_a_merged_pr_seen_on_a_stale_row_still_completes_the_task() -> None:
    stale = pr_opened_task()
    # Somebody else writes the row between the webhook's read and its write.
    tasks.update(tasks.get(stale.id), {"priority": 5}, NOW)
    assert webhooks._merged(stale, {"merged": True, "head": {"sha": "abc123"}}) is True
    done = tasks.get(stale.id)
    assert (done.state, done.prState, done.priority) == (TaskState.COMPLETED.value, "merged", 5)


def test_a_merged_pr_of_a_task_that_moved_on_is_not_applied() -> None:
    stale = pr_opened_task()
    tasks.transition(tasks.get(stale.id), TaskState.CANCELLED, trigger="user", message="cancelled",
                     now=NOW)
    assert webhooks._merged(stale, {"merged": True, "head": {"sha": "abc123"}}) is False
    after = tasks.get(stale.id)
    assert (after.state, after.prState) == (TaskState.CANCELLED.value, None)


def queued_task() -> TaskModel:
    task = pr_opened_task()
    return tasks.update(task, {"state": TaskState.QUEUED.value, "prUrl": None, "queuedAt": task.createdAt}, NOW)


def test_a_queued_task_edited_while_dispatching_still_takes_its_slot() -> None:
    stale = queued_task()
    tasks.update(tasks.get(stale.id), {"priority": 3}, NOW)
    # Limits no other test's slots reach: this one counts only its own.
    assert dispatcher._take_slot(stale, tasks.SlotLimits(10_000, 1)) is True
    started = tasks.get(stale.id)
    assert (started.state, started.priority) == (TaskState.PROVISIONING.value, 3)
    tasks.transition(started, TaskState.CANCELLED, trigger="test", message="slot back", now=NOW)


def test_a_task_cancelled_while_dispatching_is_skipped() -> None:
    stale = queued_task()
    tasks.transition(tasks.get(stale.id), TaskState.CANCELLED, trigger="user", message="cancelled", now=NOW)
    assert dispatcher._take_slot(stale, tasks.SlotLimits(10_000, 1)) is False
    assert tasks.get(stale.id).state == TaskState.CANCELLED.value


def test_a_queued_run_edited_while_dispatching_still_takes_its_slot() -> None:
    stale = workflow_runs.create({"id": str(uuid.uuid4()), "taskConfigId": str(uuid.uuid4()), "prompt": "p"}, NOW)
    workflow_runs.update(workflow_runs.get(stale.id), {"prompt": "edited"}, NOW)
    assert standalone_runs._take_slot(stale, workflow_runs.SlotLimits(10_000, 1)) is True
    started = workflow_runs.get(stale.id)
    assert started.state == RunState.RUNNING.value
    workflow_runs.transition(started, RunState.FAILED, NOW, trigger="test", reason="slot back")
