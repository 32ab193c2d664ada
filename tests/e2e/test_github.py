"""GitHub end to end (SPEC §8): local mode with the GitHub stand-in; the runner's git reaches local
bare repositories through git's URL rewriting, its REST calls reach the stand-in."""
from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fakes.github_api import FakeGitHub
from tests.fakes.jira_api import FakeJira
from tests.fakes.linear_api import FakeLinear
from tests.fakes.notion_api import FakeNotion
from tests.support.api import Api
from tests.support.gitrepo import make_bare_repo
from tests.support.localmode import LocalMode, start_local_mode
from tests.support.waiting import wait_for

pytestmark = pytest.mark.xdist_group("e2e-github")

WEBHOOK_SECRET = "whsec-test"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGitHub]:
    server = FakeGitHub().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def linear() -> Iterator[FakeLinear]:
    server = FakeLinear().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def jira() -> Iterator[FakeJira]:
    server = FakeJira().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def notion() -> Iterator[FakeNotion]:
    server = FakeNotion().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def remotes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("github-remotes")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, fake: FakeGitHub, linear: FakeLinear, jira: FakeJira,
          notion: FakeNotion, remotes: Path) -> Iterator[LocalMode]:
    mode = start_local_mode(
        tmp_path_factory.mktemp("github-stack"),
        OPTIO_GITHUB_API_URL=fake.url,
        OPTIO_PR_WATCH_INTERVAL="300",
        OPTIO_TICKET_SYNC_INTERVAL="700",
        OPTIO_LINEAR_API_URL=linear.url,
        OPTIO_NOTION_API_URL=notion.url,
        GIT_CONFIG_COUNT="1",
        GIT_CONFIG_KEY_0=f"url.file://{remotes}/.insteadOf",
        GIT_CONFIG_VALUE_0="https://github.com/",
    )
    mode.api.ok("PUT", "/api/secrets/GITHUB_TOKEN", {"value": fake.token}, status=201)
    mode.api.ok("PUT", "/api/secrets/GITHUB_WEBHOOK_SECRET", {"value": WEBHOOK_SECRET}, status=201)
    mode.api.ok("PUT", "/api/secrets/LINEAR_API_KEY", {"value": linear.api_key}, status=201)
    mode.api.ok("PUT", "/api/secrets/JIRA_API_TOKEN", {"value": jira.api_token}, status=201)
    mode.api.ok("PUT", "/api/secrets/NOTION_TOKEN", {"value": notion.token}, status=201)
    yield mode
    mode.stop()


def github_repo(api: Api, fake: FakeGitHub, remotes: Path, **settings: Any) -> tuple[str, dict[str, Any]]:
    """A repository on the stand-in (and its git remote), registered in Optio."""
    full_name = f"acme/r{uuid.uuid4().hex[:8]}"
    make_bare_repo(remotes, full_name)
    fake.add_repo(full_name)
    repo = api.ok("POST", "/api/repos", {"repoUrl": f"https://github.com/{full_name}", **settings}, status=201)
    return full_name, repo


def task_for_issue(api: Api, repo: dict[str, Any], issue: dict[str, Any]) -> dict[str, Any]:
    """Assigned to Optio through the API, as from the Issues view."""
    body = {"repoId": repo["id"], "issueNumber": issue["number"]}
    return api.ok("POST", "/api/issues/assign", body, status=201)  # type: ignore[no-any-return]


def runs_of(stack: LocalMode, task_id: str) -> list[dict[str, Any]]:
    return [r for r in stack.agent_runs() if task_id in str(r["cwd"])]


def prompt_of(run: dict[str, Any]) -> str:
    argv = run["argv"]
    return str(argv[argv.index("-p") + 1])


def the_pr(fake: FakeGitHub, full_name: str) -> dict[str, Any]:
    return wait_for(lambda: (fake.pulls(full_name) or [None])[0], what="the pull request")


def wait_runs(stack: LocalMode, task_id: str, count: int) -> list[dict[str, Any]]:
    return wait_for(lambda: len(runs_of(stack, task_id)) >= count and runs_of(stack, task_id),
                    timeout_s=40, what=f"{count} agent runs")


def watcher_looks(fake: FakeGitHub, full_name: str, number: int) -> int:
    return sum(1 for method, path in list(fake.requests) if path == f"/repos/{full_name}/pulls/{number}")


def test_issue_to_pr_ci_fails_agent_resumed_ci_passes_auto_merged_issue_closed(
    stack: LocalMode, fake: FakeGitHub, remotes: Path
) -> None:
    api = stack.api
    full_name, repo = github_repo(api, fake, remotes, autoMerge=True, autoResume=True, maxAutoResumes=2)
    issue = fake.add_issue(full_name, "Fix the login redirect", "Return to /checkout after login.")
    task = task_for_issue(api, repo, issue)
    opened = api.wait_state(task["id"], "pr_opened", timeout_s=40)
    pr = the_pr(fake, full_name)
    assert opened["prUrl"] == pr["html_url"] and opened["prNumber"] == pr["number"]
    assert f"Closes #{issue['number']}" in pr["body"] and pr["title"] == issue["title"]

    first_sha = pr["head"]["sha"]
    fake.set_checks(full_name, first_sha, [("lint", "success", ""),
                                           ("unit-tests", "failure", "FAILED test_login_redirect")])
    [first, second] = wait_runs(stack, task["id"], 2)[:2]
    resumed = prompt_of(second)
    assert "unit-tests" in resumed and "FAILED test_login_redirect" in resumed
    assert "--resume" in second["argv"]
    back = api.wait_state(task["id"], "pr_opened", timeout_s=40)
    assert back["autoResumeCount"] == 1 and len(fake.pulls(full_name)) == 1

    # The agent's fix is pushed: a new head commit whose checks pass; auto-merge squashes it.
    fake.set_head(full_name, pr["number"], "c0ffee" * 6 + "beef")
    fake.set_checks(full_name, "c0ffee" * 6 + "beef", [("lint", "success", ""), ("unit-tests", "success", "")])
    done = api.wait_state(task["id"], "completed", timeout_s=30)
    assert done["prState"] == "merged"
    assert [m for m in fake.merges if m[0] == full_name] == [(full_name, pr["number"], "squash")]
    closed = wait_for(lambda: fake.issue(full_name, issue["number"])["state"] == "closed", what="issue closed")
    assert closed and any(pr["html_url"] in c for c in fake.comments(full_name, issue["number"]))
    assert len(runs_of(stack, task["id"])) == 2


def test_ci_reporting_commit_statuses_is_read_and_its_failure_quoted_to_the_agent(
    stack: LocalMode, fake: FakeGitHub, remotes: Path
) -> None:
    api = stack.api
    full_name, repo = github_repo(api, fake, remotes, autoMerge=True, autoResume=True)
    task = api.ok("POST", "/api/tasks", {"title": "Statuses", "prompt": "work", "repoId": repo["id"]}, status=201)
    api.wait_state(task["id"], "pr_opened", timeout_s=40)
    pr = the_pr(fake, full_name)
    sha = pr["head"]["sha"]
    fake.set_status(full_name, sha, "ci/jenkins", "pending", "Build #41 running", "https://jenkins.example.com/41")
    wait_for(lambda: api.task(task["id"])["prChecksStatus"] == "pending", what="CI pending from the status")
    fake.set_status(full_name, sha, "ci/jenkins", "failure", "Build #41 failed: test_login",
                    "https://jenkins.example.com/41")
    [_, second] = wait_runs(stack, task["id"], 2)[:2]
    resumed = prompt_of(second)
    assert "ci/jenkins" in resumed and "Build #41 failed: test_login" in resumed
    assert "https://jenkins.example.com/41" in resumed
    api.wait_state(task["id"], "pr_opened", timeout_s=40)
    fake.set_head(full_name, pr["number"], "5e" * 20)
    fake.set_status(full_name, "5e" * 20, "ci/jenkins", "success", "Build #42 passed", "https://jenkins.example.com/42")
    done = api.wait_state(task["id"], "completed", timeout_s=30)
    assert done["prState"] == "merged" and len(runs_of(stack, task["id"])) == 2


def test_the_resume_cap_leads_to_needs_attention(stack: LocalMode, fake: FakeGitHub, remotes: Path) -> None:
    api = stack.api
    full_name, repo = github_repo(api, fake, remotes, autoResume=True, maxAutoResumes=1)
    task = api.ok("POST", "/api/tasks", {"title": "Cap", "prompt": "work", "repoId": repo["id"]}, status=201)
    api.wait_state(task["id"], "pr_opened", timeout_s=40)
    pr = the_pr(fake, full_name)
    fake.set_checks(full_name, pr["head"]["sha"], [("ci", "failure", "boom")])
    wait_runs(stack, task["id"], 2)
    api.wait_state(task["id"], "pr_opened", timeout_s=40)
    fake.set_head(full_name, pr["number"], "ab" * 20)
    fake.set_checks(full_name, "ab" * 20, [("ci", "failure", "boom again")])
    stuck = api.wait_state(task["id"], "needs_attention", timeout_s=30)
    assert "1 automatic resumes used" in stuck["errorMessage"]
    assert len(runs_of(stack, task["id"])) == 2


def test_a_review_launches_when_ci_passes_and_holds_the_merge_until_done(
    stack: LocalMode, fake: FakeGitHub, remotes: Path
) -> None:
    api = stack.api
    full_name, repo = github_repo(api, fake, remotes, autoMerge=True, reviewEnabled=True, reviewTrigger="on_ci_pass")
    task = api.ok("POST", "/api/tasks", {"title": "Reviewed", "prompt": "work", "repoId": repo["id"]}, status=201)
    api.wait_state(task["id"], "pr_opened", timeout_s=40)
    pr = the_pr(fake, full_name)
    assert not api.ok("GET", f"/api/tasks/{task['id']}/subtasks")["items"]
    fake.set_checks(full_name, pr["head"]["sha"], [("ci", "success", "")])
    [review] = wait_for(lambda: api.ok("GET", f"/api/tasks/{task['id']}/subtasks")["items"], timeout_s=30,
                        what="the review subtask")
    assert review["taskType"] == "review" and review["blocksParent"] is True
    api.wait_state(review["id"], "completed", timeout_s=40)
    done = api.wait_state(task["id"], "completed", timeout_s=30)
    assert done["prState"] == "merged"
    assert [m for m in fake.merges if m[0] == full_name] == [(full_name, pr["number"], "squash")]
    assert len(api.ok("GET", f"/api/tasks/{task['id']}/subtasks")["items"]) == 1


def test_closed_unmerged_pr_fails_the_task(stack: LocalMode, fake: FakeGitHub, remotes: Path) -> None:
    api = stack.api
    full_name, repo = github_repo(api, fake, remotes)
    task = api.ok("POST", "/api/tasks", {"title": "Closed", "prompt": "work", "repoId": repo["id"]}, status=201)
    api.wait_state(task["id"], "pr_opened", timeout_s=40)
    fake.close_pr(full_name, the_pr(fake, full_name)["number"])
    failed = api.wait_state(task["id"], "failed", timeout_s=30)
    assert failed["errorKind"] == "pr_closed"


def test_throttling_changes_nothing_then_the_watcher_carries_on(
    stack: LocalMode, fake: FakeGitHub, remotes: Path
) -> None:
    api = stack.api
    full_name, repo = github_repo(api, fake, remotes)
    task = api.ok("POST", "/api/tasks", {"title": "Slow", "prompt": "work", "repoId": repo["id"]}, status=201)
    api.wait_state(task["id"], "pr_opened", timeout_s=40)
    fake.throttle_once(429, retry_after=1)
    fake.merge(full_name, the_pr(fake, full_name)["number"])
    done = api.wait_state(task["id"], "completed", timeout_s=30)
    assert done["errorMessage"] is None


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(stack: LocalMode, event: str, payload: dict[str, Any], delivery: str | None = None,
            signature: str | None = None) -> requests.Response:
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "X-GitHub-Event": event,
               "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
               "X-Hub-Signature-256": signature if signature is not None else sign(body)}
    return requests.post(f"{stack.url}/api/webhooks/github", data=body, headers=headers, timeout=10)


def test_issues_listed_and_assigned_once(stack: LocalMode, fake: FakeGitHub, remotes: Path) -> None:
    api = stack.api
    full_name, repo = github_repo(api, fake, remotes)
    older = fake.add_issue(full_name, "Older", "old", updated_at="2026-01-01T00:00:00Z")
    newer = fake.add_issue(full_name, "Newer", "new", labels=("bug",), updated_at="2026-02-01T00:00:00Z")
    taken = fake.add_issue(full_name, "Taken", "mine", assignee="octocat", updated_at="2026-03-01T00:00:00Z")
    fake.add_comment(full_name, older["number"], "It also happens on Safari")
    listed = api.ok("GET", f"/api/issues?repoId={repo['id']}")["items"]
    assert [i["number"] for i in listed] == [newer["number"], older["number"], taken["number"]]
    assert listed[0]["labels"] == ["bug"] and all(i["task"] is None for i in listed)

    body = {"repoId": repo["id"], "issueNumber": older["number"]}
    first = api.request("POST", "/api/issues/assign", json=body)
    assert first.status_code == 201, first.text
    task = first.json()
    assert task["title"] == "Older" and task["metadata"]["issueNumber"] == older["number"]
    assert "old" in task["prompt"] and "It also happens on Safari" in task["prompt"]
    again = api.request("POST", "/api/issues/assign", json=body)
    assert again.status_code == 200 and again.json()["id"] == task["id"]
    assert len([t for t in api.ok("GET", f"/api/tasks?repoId={repo['id']}")["items"]]) == 1
    assert [label["name"] for label in fake.issue(full_name, older["number"])["labels"]] == ["optio"]
    assert fake.repos[full_name].labels["optio"]["color"] == "7057ff"
    assert len([c for c in fake.comments(full_name, older["number"]) if "Optio is working" in c]) == 1
    linked = {i["number"]: i["task"] for i in api.ok("GET", "/api/issues")["items"]}
    assert linked[older["number"]]["taskId"] == task["id"] and linked[newer["number"]] is None
    missing = api.request("POST", "/api/issues/assign", json={"repoId": repo["id"], "issueNumber": 999})
    assert missing.status_code == 404
    api.ok("POST", f"/api/tasks/{task['id']}/cancel")


def test_webhook_signature_ping_and_merged_pr_completes_once(
    stack: LocalMode, fake: FakeGitHub, remotes: Path
) -> None:
    assert deliver(stack, "ping", {"zen": "hi"}, signature="sha256=" + "0" * 64).status_code == 401
    assert deliver(stack, "ping", {"zen": "hi"}, signature="").status_code == 401
    assert deliver(stack, "ping", {"zen": "hi"}).status_code == 200

    api = stack.api
    # A slow watcher cannot be what completes the task here: the PR is merged only in the payload.
    full_name, repo = github_repo(api, fake, remotes)
    issue = fake.add_issue(full_name, "Hooked", "hook me")
    task = task_for_issue(api, repo, issue)
    opened = api.wait_state(task["id"], "pr_opened", timeout_s=40)
    payload = {"action": "closed", "number": opened["prNumber"],
               "pull_request": {"html_url": opened["prUrl"], "merged": True, "number": opened["prNumber"],
                                "head": {"sha": "feed" * 10}},
               "repository": {"full_name": full_name}}
    delivery = str(uuid.uuid4())
    first = deliver(stack, "pull_request", payload, delivery)
    assert first.status_code == 200 and first.json()["acted"] == [task["id"]]
    # The delivery wrote the merge; its stream record has the executor complete the task, with no
    # watcher involved.
    api.wait_state(task["id"], "completed", timeout_s=30)
    again = deliver(stack, "pull_request", payload, delivery)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    events = api.ok("GET", f"/api/tasks/{task['id']}/events")["items"]
    assert [e["to"] for e in events].count("completed") == 1
    assert fake.issue(full_name, issue["number"])["state"] == "closed"


def test_the_same_failing_check_seen_by_webhook_and_watcher_resumes_once(
    stack: LocalMode, fake: FakeGitHub, remotes: Path
) -> None:
    api = stack.api
    full_name, repo = github_repo(api, fake, remotes, autoResume=True, maxAutoResumes=5)
    task = api.ok("POST", "/api/tasks", {"title": "Once", "prompt": "work", "repoId": repo["id"]}, status=201)
    api.wait_state(task["id"], "pr_opened", timeout_s=40)
    pr = the_pr(fake, full_name)
    fake.set_checks(full_name, pr["head"]["sha"], [("ci", "failure", "red")])
    payload = {"action": "completed",
               "check_run": {"name": "ci", "conclusion": "failure", "head_sha": pr["head"]["sha"],
                             "pull_requests": [{"number": pr["number"]}]},
               "repository": {"full_name": full_name, "html_url": f"{fake.url}/{full_name}"}}
    for _ in range(3):
        assert deliver(stack, "check_run", payload).status_code == 200
    wait_runs(stack, task["id"], 2)
    back = api.wait_state(task["id"], "pr_opened", timeout_s=40)
    # Many more watcher passes and another delivery of the same failure change nothing.
    assert deliver(stack, "check_run", payload).status_code == 200
    seen = watcher_looks(fake, full_name, pr["number"])
    wait_for(lambda: watcher_looks(fake, full_name, pr["number"]) >= seen + 3, what="three more watcher passes")
    assert api.task(task["id"])["state"] == "pr_opened"
    events = api.ok("GET", f"/api/tasks/{task['id']}/events")["items"]
    assert [e["to"] for e in events].count("queued") == 2  # created -> queued, then one resume
    assert len(runs_of(stack, task["id"])) == 2 and back["autoResumeCount"] == 1


def tasks_of(api: Api, repo: dict[str, Any]) -> list[dict[str, Any]]:
    return api.ok("GET", f"/api/tasks?repoId={repo['id']}&limit=200")["items"]  # type: ignore[no-any-return]


def test_github_ticket_provider_syncs_labeled_issues_once(
    stack: LocalMode, fake: FakeGitHub, remotes: Path
) -> None:
    api = stack.api
    full_name, repo = github_repo(api, fake, remotes)
    wanted = fake.add_issue(full_name, "Synced", "please", labels=("optio",))
    fake.add_issue(full_name, "Not for us", "no label")
    refused = api.request("POST", "/api/ticket-providers", json={"kind": "linear", "repoId": repo["id"]})
    assert refused.status_code == 400
    provider = api.ok("POST", "/api/ticket-providers",
                      {"kind": "github", "repoId": repo["id"], "config": {"labels": ["optio"]}}, status=201)
    # The schedule finds the labeled issue; further syncs find nothing new.
    [task] = wait_for(lambda: tasks_of(api, repo), timeout_s=20, what="the synced task")
    assert task["title"] == "Synced" and task["metadata"]["issueNumber"] == wanted["number"]
    assert api.ok("POST", f"/api/ticket-providers/{provider['id']}/sync")["created"] == []
    again = api.request("POST", "/api/issues/assign", json={"repoId": repo["id"], "issueNumber": wanted["number"]})
    assert again.status_code == 200 and again.json()["id"] == task["id"]
    assert wait_for(lambda: api.ok("GET", f"/api/ticket-providers/{provider['id']}")["lastSyncAt"],
                    what="a recorded sync")

    # Labeling another issue optio, announced by the webhook, syncs it before the answer.
    later = fake.add_issue(full_name, "Labeled later", "now", labels=("optio",))
    hook = deliver(stack, "issues", {"action": "labeled", "label": {"name": "optio"},
                                     "issue": {"number": later["number"]},
                                     "repository": {"full_name": full_name}})
    assert hook.status_code == 200, hook.text
    titles = sorted(t["title"] for t in tasks_of(api, repo))
    assert titles == ["Labeled later", "Synced"]
    for item in tasks_of(api, repo):
        api.request("POST", f"/api/tasks/{item['id']}/cancel")
    api.ok("PATCH", f"/api/ticket-providers/{provider['id']}", {"enabled": False})
    assert api.request("DELETE", f"/api/ticket-providers/{provider['id']}").status_code == 204


def test_linear_ticket_provider_pages_filters_and_creates_each_ticket_once(
    stack: LocalMode, fake: FakeGitHub, linear: FakeLinear, remotes: Path
) -> None:
    api = stack.api
    _, repo = github_repo(api, fake, remotes)
    team = f"T{uuid.uuid4().hex[:4].upper()}"
    for n in range(3):
        linear.add_issue(team, f"Linear {n}", f"do {n}", labels=("optio",))
    linear.add_issue(team, "Done already", labels=("optio",), state_type="completed")
    linear.add_issue(team, "Unlabeled")
    linear.add_issue("OTHER", "Other team", labels=("optio",))
    bad = api.ok("POST", "/api/ticket-providers",
                 {"kind": "linear", "repoId": repo["id"], "enabled": False,
                  "config": {"teamKey": team, "label": "optio", "apiKeySecret": "NO_SUCH_SECRET"}}, status=201)
    failed = api.request("POST", f"/api/ticket-providers/{bad['id']}/sync")
    assert failed.status_code == 409 and "NO_SUCH_SECRET" in failed.json()["error"]
    provider = api.ok("POST", "/api/ticket-providers",
                      {"kind": "linear", "repoId": repo["id"], "config": {"teamKey": team, "label": "optio"}},
                      status=201)
    synced = wait_for(lambda: len(tasks_of(api, repo)) >= 3 and tasks_of(api, repo), timeout_s=20,
                      what="three Linear tasks")
    assert sorted(t["title"] for t in synced) == [f"{team}-{n + 1}: Linear {n}" for n in range(3)]
    assert all(t["metadata"]["source"] == "linear" for t in synced)
    assert api.ok("POST", f"/api/ticket-providers/{provider['id']}/sync")["created"] == []
    assert len(tasks_of(api, repo)) == 3
    for item in synced:
        api.request("POST", f"/api/tasks/{item['id']}/cancel")
    api.ok("PATCH", f"/api/ticket-providers/{provider['id']}", {"enabled": False})


def test_a_ticket_trigger_handles_each_new_matching_ticket_instead_of_the_provider(
    stack: LocalMode, fake: FakeGitHub, linear: FakeLinear, remotes: Path
) -> None:
    api = stack.api
    _, repo = github_repo(api, fake, remotes)
    _, target = github_repo(api, fake, remotes)
    blueprint = api.ok("POST", "/api/tasks", {
        "type": "repo-blueprint", "name": f"triage-{uuid.uuid4().hex[:8]}", "repoId": target["id"],
        "title": "Triage {{ticketExternalId}}",
        "prompt": "[fake:noop] {{ticketTitle}} from {{ticketSource}} ({{ticketUrl}}) {{ticketLabels}}"}, status=201)
    bad = api.request("POST", f"/api/tasks/{blueprint['id']}/triggers",
                      json={"type": "ticket", "config": {"source": "trello"}})
    assert bad.status_code == 400 and bad.json()["details"][0]["field"] == "config.source"
    api.ok("POST", f"/api/tasks/{blueprint['id']}/triggers",
           {"type": "ticket", "config": {"source": "linear", "labels": ["Bug"]}}, status=201)
    team = f"T{uuid.uuid4().hex[:4].upper()}"
    crash = linear.add_issue(team, "Crash on save", "stack trace", labels=("optio", "bug"))
    linear.add_issue(team, "Feature idea", labels=("optio",))
    provider = api.ok("POST", "/api/ticket-providers",
                      {"kind": "linear", "repoId": repo["id"], "config": {"teamKey": team, "label": "optio"}},
                      status=201)
    [run] = wait_for(lambda: tasks_of(api, target), timeout_s=20, what="the ticket trigger's run")
    assert run["title"] == f"Triage {crash['identifier']}"
    assert run["prompt"].startswith(f"[fake:noop] Crash on save from linear ({crash['url']})")
    assert run["metadata"]["triggerParams"]["ticketLabels"] == ["optio", "bug"]
    # The crash is the trigger's alone; the provider's plain task is only the other ticket's.
    [plain] = wait_for(lambda: tasks_of(api, repo), timeout_s=20, what="the other ticket's task")
    assert plain["title"].endswith(": Feature idea")
    assert api.ok("POST", f"/api/ticket-providers/{provider['id']}/sync")["created"] == []
    assert len(tasks_of(api, target)) == 1 and len(tasks_of(api, repo)) == 1
    api.ok("PATCH", f"/api/ticket-providers/{provider['id']}", {"enabled": False})
    api.ok("PATCH", f"/api/tasks/{blueprint['id']}", {"enabled": False})  # its trigger fires no more
    for item in tasks_of(api, repo) + tasks_of(api, target):
        api.request("POST", f"/api/tasks/{item['id']}/cancel")


def test_one_task_per_ticket_however_many_syncs_and_webhooks_see_it(
    stack: LocalMode, fake: FakeGitHub, linear: FakeLinear, remotes: Path
) -> None:
    """GitHub and Linear tickets, each matching a ticket trigger (two, for the Linear one) and a
    provider, seen by the scheduled sync, syncs by hand, labeled webhooks and an assignment."""
    api = stack.api
    full_name, repo = github_repo(api, fake, remotes, maxConcurrentTasks=10)
    _, target = github_repo(api, fake, remotes, maxConcurrentTasks=10)
    made = [api.ok("POST", "/api/tasks", {
        "type": "repo-blueprint", "name": f"{source}-{uuid.uuid4().hex[:8]}", "repoId": target["id"],
        "title": f"{source} {{{{ticketExternalId}}}}", "prompt": "[fake:noop] {{ticketTitle}}"}, status=201)
        for source in ("github", "linear", "linear")]
    # A label of this test's own: ticket triggers of other tests' blueprints stay out of it.
    bug = f"bug-{uuid.uuid4().hex[:6]}"
    triggers = [api.ok("POST", f"/api/tasks/{config['id']}/triggers",
                       {"type": "ticket", "config": {"source": source, "labels": [bug]}}, status=201)
                for config, source in zip(made, ("github", "linear", "linear"), strict=True)]
    team = f"T{uuid.uuid4().hex[:4].upper()}"
    ticket = linear.add_issue(team, "Linear crash", labels=("optio", bug))
    issue = fake.add_issue(full_name, "GitHub crash", "trace", labels=("optio", bug))
    providers = [api.ok("POST", "/api/ticket-providers", body, status=201) for body in (
        {"kind": "github", "repoId": repo["id"], "config": {"labels": ["optio"]}},
        {"kind": "linear", "repoId": repo["id"], "config": {"teamKey": team, "label": "optio"}},
        {"kind": "linear", "repoId": repo["id"], "config": {"teamKey": team}},  # sees the same ticket
    )]
    labeled = {"action": "labeled", "label": {"name": bug}, "issue": {"number": issue["number"]},
               "repository": {"full_name": full_name}}
    for _ in range(3):
        assert deliver(stack, "issues", labeled).status_code == 200
        for provider in providers:
            api.ok("POST", f"/api/ticket-providers/{provider['id']}/sync")
    assigned = api.request("POST", "/api/issues/assign", json={"repoId": repo["id"], "issueNumber": issue["number"]})
    assert assigned.status_code == 200, assigned.text
    # A sync that claimed a ticket writes its run a moment later: wait for both, then let more
    # scheduled syncs pass (each provider syncs every 700 ms here) and see nothing added.
    runs = wait_for(lambda: len(tasks_of(api, target)) >= 2 and tasks_of(api, target), timeout_s=20,
                    what="both tickets' runs")
    synced = {p["id"]: api.ok("GET", f"/api/ticket-providers/{p['id']}")["lastSyncAt"] for p in providers}
    wait_for(lambda: all(api.ok("GET", f"/api/ticket-providers/{i}")["lastSyncAt"] > at for i, at in synced.items()),
             timeout_s=20, what="another scheduled sync of every provider")
    assert len(tasks_of(api, target)) == 2
    assert sorted(t["title"] for t in runs) == sorted([f"github {issue['number']}", f"linear {ticket['identifier']}"])
    assert tasks_of(api, repo) == []  # no plain task besides the triggers' runs
    assert assigned.json()["id"] == next(t["id"] for t in runs if t["title"].startswith("github"))
    # The older of the two Linear triggers handled the ticket; the newer never fired.
    fired = {t["id"]: t.get("lastFiredAt") for c in made
             for t in api.ok("GET", f"/api/tasks/{c['id']}/triggers")["items"]}
    assert [bool(fired[t["id"]]) for t in triggers] == [True, True, False]
    for provider in providers:
        api.ok("PATCH", f"/api/ticket-providers/{provider['id']}", {"enabled": False})
    for item in runs:
        api.request("POST", f"/api/tasks/{item['id']}/cancel")


def test_linear_jira_and_notion_tickets_are_told_of_their_task_its_pr_and_its_completion(
    stack: LocalMode, fake: FakeGitHub, linear: FakeLinear, jira: FakeJira, notion: FakeNotion, remotes: Path
) -> None:
    api = stack.api
    full_name, repo = github_repo(api, fake, remotes, maxConcurrentTasks=5)
    team = f"L{uuid.uuid4().hex[:4].upper()}"
    project = f"J{uuid.uuid4().hex[:4].upper()}"
    database = notion.add_database()
    lin = linear.add_issue(team, "Linear: fix the banner", labels=("optio",))
    jir = jira.add_issue(project, "Jira: fix the footer", "The footer overlaps.", labels=("optio",))
    jira.add_issue(project, "Jira: not for us")
    page = notion.add_page(database, "Notion: fix the header", tags=("optio",))
    notion.add_page(database, "Notion: done already", status="Done", tags=("optio",))
    providers = [api.ok("POST", "/api/ticket-providers", body, status=201) for body in (
        {"kind": "linear", "repoId": repo["id"], "config": {"teamKey": team, "label": "optio"}},
        {"kind": "jira", "repoId": repo["id"], "config": {
            "site": jira.url, "projectKey": project, "label": "optio", "email": jira.email}},
        {"kind": "notion", "repoId": repo["id"], "config": {
            "databaseId": database, "statusProperty": "Status", "todoState": "Not started",
            "labelsProperty": "Tags", "label": "optio"}},
    )]
    bad = api.request("POST", "/api/ticket-providers", json={"kind": "jira", "repoId": repo["id"], "config": {
        "site": "not a url", "projectKey": project, "email": jira.email}})
    assert bad.status_code == 400 and "config.site" in bad.text
    tasks = wait_for(lambda: len(tasks_of(api, repo)) >= 3 and tasks_of(api, repo), timeout_s=30,
                     what="a task per ticket")
    by_title = {t["title"]: t for t in tasks}
    assert sorted(by_title) == sorted([f"{lin['identifier']}: Linear: fix the banner",
                                       f"{jir['key']}: Jira: fix the footer", "Notion: fix the header"])
    told = {
        "linear": lambda: linear.comments.get(lin["id"], []),
        "jira": lambda: jira.comment_texts(jir["key"]),
        "notion": lambda: notion.comment_texts(page["id"]),
    }
    task_of = {"linear": by_title[f"{lin['identifier']}: Linear: fix the banner"],
               "jira": by_title[f"{jir['key']}: Jira: fix the footer"], "notion": by_title["Notion: fix the header"]}
    for kind, task in task_of.items():
        opened = api.wait_state(task["id"], "pr_opened", timeout_s=60)
        said = wait_for(lambda k=kind: len(told[k]()) >= 2 and told[k](), timeout_s=20, what=f"{kind}: two comments")
        assert said[0].startswith(f"Optio is working on this ticket: task {task['id']} (")
        assert f"/tasks/{task['id']})" in said[0]
        assert said[1] == f"Optio opened a pull request for this ticket: {opened['prUrl']}"
        fake.merge(full_name, opened["prNumber"])
    for kind, task in task_of.items():
        done = api.wait_state(task["id"], "completed", timeout_s=30)
        said = wait_for(lambda k=kind: len(told[k]()) >= 3 and told[k](), timeout_s=20, what=f"{kind}: the last comment")
        assert said[2] == f"Optio completed this ticket's task {task['id']}; pull request {done['prUrl']}."
    assert wait_for(lambda: linear.state_of(lin["id"]) == "Done", what="the Linear issue done")
    assert wait_for(lambda: jira.status_of(jir["key"]) == "Done", what="the Jira issue done")
    assert wait_for(lambda: notion.status_of(page["id"]) == "Done", what="the Notion page done")
    # Later syncs find nothing new (done tickets drop out of the filters; the rest are claimed),
    # and nothing is said twice.
    for provider in providers:
        assert api.ok("POST", f"/api/ticket-providers/{provider['id']}/sync")["created"] == []
        api.ok("PATCH", f"/api/ticket-providers/{provider['id']}", {"enabled": False})
    assert [len(told[k]()) for k in told] == [3, 3, 3]


def test_a_provider_failing_five_times_in_a_row_is_disabled(stack: LocalMode, fake: FakeGitHub,
                                                            remotes: Path) -> None:
    api = stack.api
    _, repo = github_repo(api, fake, remotes)
    provider = api.ok("POST", "/api/ticket-providers",
                      {"kind": "linear", "repoId": repo["id"],
                       "config": {"teamKey": "ENG", "apiKeySecret": "MISSING_KEY"}}, status=201)
    url = f"/api/ticket-providers/{provider['id']}"
    # The scheduled sync (every 700 ms here) fails each time; the fifth failure disables it.
    seen = wait_for(lambda: (p := api.ok("GET", url))["failureCount"] >= 5 and p, timeout_s=20,
                    what="five failed syncs")
    assert seen["enabled"] is False and seen["failureCount"] == 5
    assert seen["lastError"].startswith("disabled after 5 failed syncs in a row: ")
    assert "MISSING_KEY" in seen["lastError"]
    # Enabled again (once fixed), it starts counting afresh.
    again = api.ok("PATCH", url, {"enabled": True})
    assert again["enabled"] is True and again["failureCount"] == 0
    api.ok("PATCH", url, {"enabled": False})
