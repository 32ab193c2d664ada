"""The PR watcher in this process against the session's DynamoDB Local and the GitHub stand-in:
it writes what it sees with compare-and-swap, only when something changed, and a throttled
GitHub changes nothing."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from chalicelib.core.pull_requests import PrState, PrView, observed_fields
from chalicelib.core.states import State
from chalicelib.forge.github import Forge, Throttled
from chalicelib.forge.watcher import observe_task, watch_once
from chalicelib.store import executions
from chalicelib.store.models import ExecutionModel
from chalicelib.store.tables import create_all
from tests.fakes.github_api import FakeGitHub

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
REPO = "acme/watched"


@pytest.fixture(scope="module", autouse=True)
def tables() -> None:
    create_all()


@pytest.fixture()
def fake() -> Iterator[FakeGitHub]:
    server = FakeGitHub().start()
    server.add_repo(REPO)
    yield server
    server.stop()


def pr_task(fake: FakeGitHub) -> tuple[ExecutionModel, dict[str, object]]:
    status, pr, _ = fake.handle("POST", f"/repos/{REPO}/pulls", {},
                                {"title": "T", "head": f"optio/w-{uuid.uuid4().hex[:6]}", "base": "main"},
                                f"token {fake.token}")
    assert status == 201
    task_id = str(uuid.uuid4())
    task = executions.create({
        "id": task_id, "state": State.PR_OPENED.value, "title": "t", "prompt": "p", "repoId": "r",
        "repoUrl": f"https://github.com/{REPO}", "repoBranch": "main", "branchName": "optio/w",
        "agentType": "claude-code", "prUrl": pr["html_url"], "prNumber": pr["number"],
    }, NOW)
    return task, pr


def test_writes_only_changes_and_finds_the_task_by_pr_url(fake: FakeGitHub) -> None:
    forge = Forge.connect(fake.token, base_url=fake.url)
    task, pr = pr_task(fake)
    assert observe_task(task, forge) is True
    seen = executions.get(task.id)
    assert (seen.prState, seen.prChecksStatus, seen.prReviewStatus) == ("open", "none", "pending")
    assert seen.prObservedAt and seen.prDetails["headSha"] == pr["head"]["sha"]  # type: ignore[index]
    assert observe_task(seen, forge) is False
    assert executions.get(task.id).version == seen.version
    fake.set_checks(REPO, str(pr["head"]["sha"]), [("ci", "failure", "red")])  # type: ignore[index]
    assert observe_task(seen, forge) is True
    assert executions.get(task.id).prChecksStatus == "failing"
    assert [row.id for row in ExecutionModel.pr_url_index.query(str(pr["html_url"]))] == [task.id]


def test_a_stale_row_is_read_again_not_overwritten(fake: FakeGitHub) -> None:
    forge = Forge.connect(fake.token, base_url=fake.url)
    task, _ = pr_task(fake)
    stale = executions.get(task.id)
    executions.update(executions.get(task.id), {"priority": 5}, NOW)
    assert observe_task(stale, forge) is True
    fresh = executions.get(task.id)
    assert fresh.priority == 5 and fresh.prState == "open"


def test_a_merge_written_meanwhile_is_not_taken_back(fake: FakeGitHub) -> None:
    # The watcher read the row, then a webhook wrote "merged" before GitHub's API showed it: the
    # watcher's lost race must not put back the "open" it sees.
    forge = Forge.connect(fake.token, base_url=fake.url)
    task, pr = pr_task(fake)
    stale = executions.get(task.id)
    merged = observed_fields(PrView(state=PrState.MERGED, head_sha=str(pr["head"]["sha"])), "2026-11-23T12:00:00Z")  # type: ignore[index]
    executions.update(executions.get(task.id), merged, NOW)
    assert observe_task(stale, forge) is False
    assert executions.get(task.id).prState == "merged"


def test_throttling_changes_nothing(fake: FakeGitHub) -> None:
    forge = Forge.connect(fake.token, base_url=fake.url)
    task, _ = pr_task(fake)
    before = executions.get(task.id)
    fake.throttle_once(403, retry_after=None, reset_in=42)
    with pytest.raises(Throttled) as caught:
        observe_task(before, forge)
    assert 30 < caught.value.wait_s <= 43
    after = executions.get(task.id)
    assert after.version == before.version and after.prState is None
    watch_once(forge)
    assert executions.get(task.id).prState == "open"
