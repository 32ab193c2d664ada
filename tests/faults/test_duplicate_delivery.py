"""Fault: GitHub delivers the same "merged" event twice at once, from two threads, under the same
delivery id (a redelivery racing the original) and under two ids (GitHub and a replay tool). The
task completes once, with one event, and its issue is closed; no delivery is lost."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fakes.github_api import FakeGitHub
from tests.support.gitrepo import make_bare_repo
from tests.support.localmode import LocalMode

from .conftest import WEBHOOK_SECRET

pytestmark = pytest.mark.xdist_group("faults-duplicate-delivery")


def merged_pr_task(mode: LocalMode, fake: FakeGitHub, remotes: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    full_name = f"acme/d{uuid.uuid4().hex[:8]}"
    make_bare_repo(remotes, full_name)
    fake.add_repo(full_name)
    repo = mode.api.ok("POST", "/api/repos", {"repoUrl": f"https://github.com/{full_name}"}, status=201)
    issue = fake.add_issue(full_name, "Twice", "deliver me twice")
    task = mode.api.ok("POST", "/api/issues/assign", {"repoId": repo["id"], "issueNumber": issue["number"]},
                       status=201)
    opened = mode.api.wait_state(task["id"], "pr_opened", timeout_s=60)
    payload = {"action": "closed", "number": opened["prNumber"],
               "pull_request": {"html_url": opened["prUrl"], "merged": True, "number": opened["prNumber"],
                                "head": {"sha": "beef" * 10}},
               "repository": {"full_name": full_name}}
    return opened, {"payload": payload, "full_name": full_name, "issue": issue["number"]}


def deliver_at_once(mode: LocalMode, payload: dict[str, Any], deliveries: list[str]) -> list[requests.Response]:
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    answers: list[requests.Response] = []
    start = threading.Barrier(len(deliveries))

    def send(delivery: str) -> None:
        start.wait()
        answers.append(requests.post(f"{mode.url}/api/webhooks/github", data=body, timeout=60, headers={
            "Content-Type": "application/json", "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": signature}))

    threads = [threading.Thread(target=send, args=(delivery,)) for delivery in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def completed_once(mode: LocalMode, fake: FakeGitHub, task_id: str, about: dict[str, Any]) -> None:
    # The webhook only writes what GitHub says; the stream wakes the executor, which completes it.
    mode.api.wait_state(task_id, "completed", timeout_s=60)
    events = mode.api.ok("GET", f"/api/tasks/{task_id}/events")["items"]
    assert [e["to"] for e in events].count("completed") == 1
    assert fake.issue(about["full_name"], about["issue"])["state"] == "closed"


def test_duplicate_delivery_from_two_threads(github_mode: LocalMode, fake: FakeGitHub, remotes: Path) -> None:
    task, about = merged_pr_task(github_mode, fake, remotes)
    delivery = str(uuid.uuid4())
    answers = deliver_at_once(github_mode, about["payload"], [delivery, delivery])
    assert sorted(a.status_code for a in answers) == [200, 200], [a.text for a in answers]
    bodies = [a.json() for a in answers]
    assert sorted(bool(b.get("duplicate")) for b in bodies) == [False, True], bodies
    assert [b["acted"] for b in bodies if not b.get("duplicate")] == [[task["id"]]]
    completed_once(github_mode, fake, task["id"], about)


def test_the_same_merge_under_two_delivery_ids_at_once(github_mode: LocalMode, fake: FakeGitHub,
                                                        remotes: Path) -> None:
    task, about = merged_pr_task(github_mode, fake, remotes)
    answers = deliver_at_once(github_mode, about["payload"], [str(uuid.uuid4()), str(uuid.uuid4())])
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    # Whichever came second found the task moving or done: it acted on it or found nothing to do.
    assert {tuple(a.json()["acted"]) for a in answers} <= {(task["id"],), ()}
    completed_once(github_mode, fake, task["id"], about)


def test_duplicate_delivery_sequential(github_mode: LocalMode, fake: FakeGitHub, remotes: Path) -> None:
    task, about = merged_pr_task(github_mode, fake, remotes)
    delivery = str(uuid.uuid4())
    [first] = deliver_at_once(github_mode, about["payload"], [delivery])
    assert first.status_code == 200 and first.json()["acted"] == [task["id"]]
    for _ in range(2):
        [again] = deliver_at_once(github_mode, about["payload"], [delivery])
        assert again.status_code == 200 and again.json()["duplicate"] is True
    completed_once(github_mode, fake, task["id"], about)
