"""Fault: one GitHub issue reaches Optio every way at once — the "labeled" webhook, a re-label
(a second delivery), an assignment by hand (twice) and a ticket sync — from parallel clients.
Exactly one task exists for the issue, and every one of them answers without a server error."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.fakes.github_api import FakeGitHub
from tests.support.gitrepo import make_bare_repo
from tests.support.localmode import LocalMode

from .conftest import WEBHOOK_SECRET

pytestmark = pytest.mark.xdist_group("faults-trigger-race")


def test_trigger_race(github_mode: LocalMode, fake: FakeGitHub, remotes: Path) -> None:
    api = github_mode.api
    full_name = f"acme/t{uuid.uuid4().hex[:8]}"
    make_bare_repo(remotes, full_name)
    fake.add_repo(full_name)
    repo = api.ok("POST", "/api/repos", {"repoUrl": f"https://github.com/{full_name}"}, status=201)
    provider = api.ok("POST", "/api/ticket-providers",
                      {"kind": "github", "repoId": repo["id"], "config": {"labels": ["optio"]}}, status=201)
    issue = fake.add_issue(full_name, "Raced", "from every side", labels=("optio",))
    labeled = json.dumps({"action": "labeled", "label": {"name": "optio"}, "issue": {"number": issue["number"]},
                          "repository": {"full_name": full_name}}).encode()
    signature = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), labeled, hashlib.sha256).hexdigest()
    auth = {"Authorization": f"Bearer {github_mode.token}"}

    def hook() -> requests.Response:
        return requests.post(f"{github_mode.url}/api/webhooks/github", data=labeled, timeout=60, headers={
            "Content-Type": "application/json", "X-GitHub-Event": "issues",
            "X-GitHub-Delivery": str(uuid.uuid4()), "X-Hub-Signature-256": signature})

    def assign() -> requests.Response:
        return requests.post(f"{github_mode.url}/api/issues/assign", timeout=60, headers=auth,
                             json={"repoId": repo["id"], "issueNumber": issue["number"]})

    def sync() -> requests.Response:
        return requests.post(f"{github_mode.url}/api/ticket-providers/{provider['id']}/sync", timeout=60,
                             headers=auth)

    ways: list[Callable[[], requests.Response]] = [hook, hook, assign, assign, sync, sync]
    answers: list[requests.Response] = []
    start = threading.Barrier(len(ways))

    def run(way: Callable[[], requests.Response]) -> None:
        start.wait()
        answers.append(way())

    threads = [threading.Thread(target=run, args=(way,)) for way in ways]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(answers) == len(ways)
    assert all(a.status_code in (200, 201) for a in answers), [(a.status_code, a.text) for a in answers]
    tasks = api.ok("GET", f"/api/tasks?repoId={repo['id']}&limit=200")["items"]
    assert [t["metadata"]["issueNumber"] for t in tasks] == [issue["number"]], tasks
    assigned = {a.json()["id"] for a in answers if a.request.url and a.request.url.endswith("/assign")}
    assert assigned == {tasks[0]["id"]}
