"""Fault: a feedback loop with no end. CI fails on every commit the agent pushes, so every resume
brings a new failing head: the automatic resumes stop at the repository's `maxAutoResumes`, the
task waits for a person (`needs_attention`, saying why) and the pull request says so in a
comment. And one failing check seen twice, by the webhook and by the PR watcher, resumes the
agent once. Local mode, its watcher looking every 300 ms, on the GitHub stand-in; the runner's
pushes reach git remotes whose branch heads the stand-in's pull requests show, as GitHub does."""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fakes.github_api import FakeGitHub
from tests.faults.conftest import WEBHOOK_SECRET
from tests.support.gitrepo import make_bare_repo
from tests.support.localmode import LocalMode, start_local_mode
from tests.support.waiting import wait_for

pytestmark = pytest.mark.xdist_group("faults-feedback")

PULL = re.compile(r"/repos/(?P<repo>[^/]+/[^/]+)/pulls(?:/\d+)?")
CHECK_RUNS = re.compile(r"/repos/(?P<repo>[^/]+/[^/]+)/commits/(?P<sha>[^/]+)/check-runs")
CAP = 2


class PushedGitHub(FakeGitHub):
    """The stand-in over the git remotes in `remotes`: an open pull request's head is its branch's
    newest commit there, as on GitHub after a push; the CI of the repositories in `red` fails on
    every commit."""

    def __init__(self, remotes: Path) -> None:
        super().__init__()
        self.remotes = remotes
        self.red: set[str] = set()

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any, dict[str, str]]:
        if method == "GET" and (pull := PULL.fullmatch(path)) and pull["repo"] in self.repos:
            for item in self.repos[pull["repo"]].items.values():
                if item["kind"] == "pull" and item["state"] == "open":
                    item["head"]["sha"] = self._branch_head(pull["repo"], item["head"]["ref"]) or item["head"]["sha"]
        runs = CHECK_RUNS.fullmatch(path)
        if method == "GET" and runs and runs["repo"] in self.red and runs["sha"] not in self.repos[runs["repo"]].check_runs:
            self.set_checks(runs["repo"], runs["sha"], [("unit-tests", "failure", f"FAILED at {runs['sha'][:7]}")])
        return super()._route(method, path, query, body)

    def _branch_head(self, full_name: str, branch: str) -> str | None:
        done = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
                              cwd=self.remotes / full_name, capture_output=True, text=True, check=False)
        return done.stdout.strip() or None


@dataclass
class Stack:
    mode: LocalMode
    github: PushedGitHub

    def repo(self, **settings: Any) -> tuple[str, dict[str, Any]]:
        full_name = f"acme/r{uuid.uuid4().hex[:8]}"
        make_bare_repo(self.github.remotes, full_name)
        self.github.add_repo(full_name)
        repo = self.mode.api.ok("POST", "/api/repos", {"repoUrl": f"https://github.com/{full_name}", **settings},
                                status=201)
        return full_name, repo

    def runs(self, task_id: str) -> list[dict[str, Any]]:
        return [r for r in self.mode.agent_runs() if task_id in str(r["cwd"])]

    def events(self, task_id: str) -> list[dict[str, Any]]:
        return self.mode.api.ok("GET", f"/api/tasks/{task_id}/events")["items"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    remotes = tmp_path_factory.mktemp("remotes")
    github = PushedGitHub(remotes).start()
    mode = start_local_mode(tmp_path_factory.mktemp("feedback"), OPTIO_GITHUB_API_URL=github.url,
                            OPTIO_PR_WATCH_INTERVAL="300", OPTIO_TICKET_SYNC_INTERVAL="3600000",
                            GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0=f"url.file://{remotes}/.insteadOf",
                            GIT_CONFIG_VALUE_0="https://github.com/")
    mode.api.ok("PUT", "/api/secrets/GITHUB_TOKEN", {"value": github.token}, status=201)
    mode.api.ok("PUT", "/api/secrets/GITHUB_WEBHOOK_SECRET", {"value": WEBHOOK_SECRET}, status=201)
    yield Stack(mode, github)  # type: ignore[arg-type]
    mode.stop()
    github.stop()


@dataclass
class Capped:
    task: dict[str, Any]
    full_name: str
    pr_number: int


@pytest.fixture(scope="module")
def capped(stack: Stack) -> Capped:
    """A task whose CI fails on every push, left to the feedback loop until it stops."""
    api = stack.mode.api
    full_name, repo = stack.repo(autoResume=True, maxAutoResumes=CAP)
    stack.github.red.add(full_name.lower())
    task = api.ok("POST", "/api/tasks", {"title": "Never green", "prompt": "work", "repoId": repo["id"]}, status=201)
    done = api.wait_state(task["id"], "needs_attention", timeout_s=240)
    [pr] = stack.github.pulls(full_name)
    return Capped(done, full_name, int(pr["number"]))


def test_ci_failing_on_every_push_stops_resuming_at_the_cap(stack: Stack, capped: Capped) -> None:
    task = capped.task
    assert task["autoResumeCount"] == CAP
    assert task["errorMessage"] == f"failing checks (unit-tests); {CAP} automatic resumes used"
    # The first run and one per resume, each resumed with the failure of the head it pushed.
    runs = stack.runs(task["id"])
    assert len(runs) == 1 + CAP
    states = [e["to"] for e in stack.events(task["id"])]
    assert states == ["pending", "queued", "provisioning", "running", "pr_opened"] + \
        ["queued", "provisioning", "running", "pr_opened"] * CAP + ["needs_attention"]
    resumes = [str(e["message"]) for e in stack.events(task["id"]) if e["to"] == "queued"][1:]
    assert resumes == [f"failing checks (unit-tests): resuming the agent (automatic resume {n} of {CAP})"
                       for n in range(1, CAP + 1)]
    # Each failure was a new push's: every head the loop saw is different.
    failing = [sha for sha in stack.github.repos[capped.full_name.lower()].check_runs]
    assert len(failing) == 1 + CAP and len(set(failing)) == 1 + CAP
    # Stopped for good: the watcher no longer looks at it, so only a person resumes it.
    assert stack.mode.api.task(task["id"])["state"] == "needs_attention"
    [pr] = stack.github.pulls(capped.full_name)
    assert pr["state"] == "open" and stack.github.merges == []


def test_the_cap_is_told_on_the_pull_request(stack: Stack, capped: Capped) -> None:
    comments = stack.github.comments(capped.full_name, capped.pr_number)
    told = [c for c in comments if f"{CAP} automatic resumes" in c]
    assert len(told) == 1, comments
    assert "unit-tests" in told[0] and capped.task["id"] in told[0], told


def sign(body: bytes) -> str:
    return "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()


def test_the_same_failing_check_seen_by_webhook_and_watcher_resumes_once(stack: Stack) -> None:
    api = stack.mode.api
    full_name, repo = stack.repo(autoResume=True, maxAutoResumes=5)
    task = api.ok("POST", "/api/tasks", {"title": "Red once", "prompt": "work", "repoId": repo["id"]}, status=201)
    api.wait_state(task["id"], "pr_opened", timeout_s=120)
    wait_for(lambda: api.task(task["id"]).get("prChecksStatus") == "none", timeout_s=60,
             what="the watcher to see the pull request")
    [pr] = stack.github.pulls(full_name)
    red = pr["head"]["sha"]
    # CI fails on that commit: the watcher sees it on its next pass, and GitHub sends the webhook.
    stack.github.set_checks(full_name, red, [("ci", "failure", "red")])
    body = json.dumps({"action": "completed",
                       "check_run": {"name": "ci", "conclusion": "failure", "head_sha": red,
                                     "pull_requests": [{"number": pr["number"]}]},
                       "repository": {"full_name": full_name, "html_url": f"{stack.github.url}/{full_name}"}}).encode()
    for _ in range(2):
        delivered = requests.post(f"{stack.mode.url}/api/webhooks/github", data=body, timeout=30, headers={
            "Content-Type": "application/json", "X-GitHub-Event": "check_run",
            "X-GitHub-Delivery": str(uuid.uuid4()), "X-Hub-Signature-256": sign(body)})
        assert delivered.status_code == 200, delivered.text

    wait_for(lambda: len(stack.runs(task["id"])) >= 2, timeout_s=120, what="the resumed run")
    back = api.wait_state(task["id"], "pr_opened", timeout_s=120)
    # The resumed agent pushed a new head, whose CI reports nothing; the watcher looks at the
    # pull request many more times, and the failure of the old head resumes nothing again.
    wait_for(lambda: api.task(task["id"]).get("prChecksStatus") == "none", timeout_s=60,
             what="the watcher to see the new head")
    looks = sum(1 for _, path in list(stack.github.requests) if path == f"/repos/{full_name}/pulls/{pr['number']}")
    wait_for(lambda: sum(1 for _, path in list(stack.github.requests)
                         if path == f"/repos/{full_name}/pulls/{pr['number']}") >= looks + 3,
             timeout_s=60, what="three more watcher passes")
    states = [e["to"] for e in stack.events(task["id"])]
    assert states == ["pending", "queued", "provisioning", "running", "pr_opened",
                      "queued", "provisioning", "running", "pr_opened"]
    assert back["autoResumeCount"] == 1 and len(stack.runs(task["id"])) == 2
    assert api.task(task["id"])["state"] == "pr_opened"
