"""Fault: GitHub's rate limits, answered as GitHub documents them: 403 or 429 with
`X-RateLimit-Remaining: 0` and `X-RateLimit-Reset` (the primary limit), or with `Retry-After`
(a secondary limit). The PR watcher and the auto-merge wait and change nothing while limited, and
act once the limit lifts: the observation is written, the pull request merged once, the task
completed."""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.github_api import FakeGitHub
from tests.faults.conftest import WEBHOOK_SECRET
from tests.support.gitrepo import make_bare_repo
from tests.support.localmode import LocalMode, start_local_mode
from tests.support.waiting import wait_for

pytestmark = pytest.mark.xdist_group("in-process")


class LimitedGitHub(FakeGitHub):
    """The stand-in under a rate limit the test switches: every request (`everything`), or only
    merges (a secondary limit on writes). Answers alternate between the primary limit's 403 and
    the secondary limit's 429, each with the headers GitHub sends."""

    def __init__(self) -> None:
        super().__init__()
        self.everything = False
        self.merges_limited = False
        self.limited: list[tuple[str, str, int]] = []
        self._switch = threading.Lock()

    def handle(self, method: str, path: str, query: dict[str, str], body: Any,
               auth: str | None) -> tuple[int, Any, dict[str, str]]:
        with self._switch:
            limit = self.everything or (self.merges_limited and method == "PUT" and path.endswith("/merge"))
            if limit:
                primary = len(self.limited) % 2 == 0
                status = 403 if primary else 429
                self.limited.append((method, path, status))
        if not limit:
            return super().handle(method, path, query, body, auth)
        with self._lock:
            self.requests.append((method, path))
        if primary:
            return 403, {"message": "API rate limit exceeded for user ID 1.",
                         "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}, \
                {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 1)}
        return 429, {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you "
                                "try again.",
                     "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}, \
            {"Retry-After": "1"}

    def limited_calls(self, method: str, pattern: str) -> int:
        with self._switch:
            return sum(1 for m, p, _ in self.limited if m == method and pattern in p)


@pytest.fixture(scope="module", autouse=True)
def tables() -> None:
    from chalicelib.store.tables import create_all

    create_all()


@pytest.fixture(scope="module")
def github() -> Iterator[LimitedGitHub]:
    server = LimitedGitHub().start()
    yield server  # type: ignore[misc]
    server.stop()


def open_pr(github: FakeGitHub, full_name: str) -> dict[str, Any]:
    status, pr, _ = github.handle("POST", f"/repos/{full_name}/pulls", {},
                                  {"title": "T", "head": f"optio/limited-{uuid.uuid4().hex[:6]}", "base": "main"},
                                  f"token {github.token}")
    assert status == 201
    return pr  # type: ignore[no-any-return]


def test_the_pr_watcher_waits_out_a_rate_limit(github: LimitedGitHub) -> None:
    from datetime import UTC, datetime

    from chalicelib.engine import executor
    from chalicelib.forge.github import Forge, Throttled
    from chalicelib.forge.watcher import watch_once
    from chalicelib.services.repos import register_repo
    from chalicelib.store import executions

    full_name = f"acme/limited-{uuid.uuid4().hex[:8]}"
    github.add_repo(full_name)
    repo = register_repo({"repoUrl": f"https://github.com/{full_name}"})
    pr = open_pr(github, full_name)
    task_id = str(uuid.uuid4())
    executions.create({
        "id": task_id, "state": "pr_opened", "title": "t", "prompt": "p", "repoId": repo.id,
        "repoUrl": repo.repoUrl, "repoBranch": "main", "branchName": "optio/limited", "agentType": "claude-code",
        "prUrl": pr["html_url"], "prNumber": pr["number"],
    }, datetime.now(UTC))
    before = executions.get(task_id)
    forge = Forge.connect(github.token, base_url=github.url)

    github.everything = True
    for expected in (403, 429):
        with pytest.raises(Throttled) as throttled:
            watch_once(forge)
        # The wait GitHub asked for: until the reset, or Retry-After.
        assert 1 <= throttled.value.wait_s <= 2
        assert github.limited[-1][2] == expected
        after = executions.get(task_id)
        assert (int(after.version), after.prState, after.prObservedAt) == (int(before.version), None, None)
    github.everything = False

    github.merge(full_name, pr["number"])
    watch_once(forge)
    seen = executions.get(task_id)
    assert (seen.prState, int(seen.version)) == ("merged", int(before.version) + 1)
    # The write wakes the executor (the stream, here the test), which completes the task.
    executor.reconcile(task_id)
    assert executions.get(task_id).state == "completed"


@pytest.fixture(scope="module")
def watched_mode(tmp_path_factory: pytest.TempPathFactory, github: LimitedGitHub) -> Iterator[tuple[LocalMode, Path]]:
    """Local mode on the limited stand-in, its watcher looking every 300 ms."""
    remotes = tmp_path_factory.mktemp("remotes")
    mode = start_local_mode(tmp_path_factory.mktemp("limited"), OPTIO_GITHUB_API_URL=github.url,
                            OPTIO_PR_WATCH_INTERVAL="300", OPTIO_TICKET_SYNC_INTERVAL="3600000",
                            GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0=f"url.file://{remotes}/.insteadOf",
                            GIT_CONFIG_VALUE_0="https://github.com/")
    mode.api.ok("PUT", "/api/secrets/GITHUB_TOKEN", {"value": github.token}, status=201)
    mode.api.ok("PUT", "/api/secrets/GITHUB_WEBHOOK_SECRET", {"value": WEBHOOK_SECRET}, status=201)
    yield mode, remotes
    mode.stop()


def test_github_rate_limits(watched_mode: tuple[LocalMode, Path], github: LimitedGitHub) -> None:
    mode, remotes = watched_mode
    api = mode.api
    full_name = f"acme/r{uuid.uuid4().hex[:8]}"
    make_bare_repo(remotes, full_name)
    github.add_repo(full_name)
    repo = api.ok("POST", "/api/repos", {"repoUrl": f"https://github.com/{full_name}", "autoMerge": True},
                  status=201)
    task = api.ok("POST", "/api/tasks", {"title": "Limited", "prompt": "work", "repoId": repo["id"]}, status=201)
    api.wait_state(task["id"], "pr_opened", timeout_s=60)
    wait_for(lambda: api.task(task["id"]).get("prState") == "open", timeout_s=30,
             what="the watcher to see the pull request")
    [pr] = github.pulls(full_name)

    def events() -> list[str]:
        return [e["to"] for e in api.ok("GET", f"/api/tasks/{task['id']}/events")["items"]]

    # 1. The primary limit, on everything: the checks pass meanwhile, but nobody can see it.
    seen = api.task(task["id"])
    github.everything = True
    # Once the watcher met the limit, none of its requests from before it is still under way.
    wait_for(lambda: github.limited_calls("GET", f"/repos/{full_name}") >= 1, timeout_s=60,
             what="the watcher to meet the limit")
    github.set_checks(full_name, pr["head"]["sha"], [("ci", "success", "green")])
    wait_for(lambda: github.limited_calls("GET", f"/repos/{full_name}") >= 3, timeout_s=60,
             what="the watcher to meet the limit three times")
    limited = api.task(task["id"])
    assert (limited["state"], limited.get("prChecksStatus")) == ("pr_opened", seen.get("prChecksStatus"))
    assert github.merges == [] and events()[-1] == "pr_opened"

    # 2. Only merges limited (a secondary limit on writes): the watcher sees the checks pass, the
    #    merge is tried, throttled, and the task waits as it was.
    github.merges_limited = True
    github.everything = False
    wait_for(lambda: github.limited_calls("PUT", f"/repos/{full_name}/pulls/{pr['number']}/merge") >= 2,
             timeout_s=60, what="the merge to meet the limit twice")
    waiting = api.task(task["id"])
    assert (waiting["state"], waiting.get("prChecksStatus")) == ("pr_opened", "passing")
    assert github.merges == [] and events()[-1] == "pr_opened"
    assert github.pulls(full_name)[0]["merged"] is False

    # 3. The limit lifts: merged once, completed.
    github.merges_limited = False
    done = api.wait_state(task["id"], "completed", timeout_s=60)
    assert done["errorMessage"] is None
    assert len(github.merges) == 1 and github.pulls(full_name)[0]["merged"] is True
    assert events() == ["pending", "queued", "provisioning", "running", "pr_opened", "completed"]
