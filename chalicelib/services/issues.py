"""GitHub issues behind `/api/issues` (SPEC §8): the open issues of connected repositories, and
assigning one to Optio (one task per issue, claimed with a conditional put)."""
from __future__ import annotations

import time
import uuid
from typing import Any

from chalicelib.core.issues import ISSUE_ASSIGN, issue_key, issue_prompt, listing_order
from chalicelib.core.naming import branch_name
from chalicelib.core.states import ExecutionKind
from chalicelib.core.validation import FieldProblem
from chalicelib.engine.clock import utcnow
from chalicelib.exceptions import Conflict, NotFound, ValidationFailed
from chalicelib.forge.github import Forge, ForgeError, NotConfigured, Throttled, full_name_of
from chalicelib.observability import logger
from chalicelib.store import claims, executions, repos
from chalicelib.store.models import ExecutionModel, RepoModel

from .tasks import create_task
from .validation import require_valid

ISSUE_STATES = ("open", "closed", "all")
# A claim's task is written right after the claim (a few DynamoDB writes); past this, give up.
CLAIMED_TASK_WAIT_S = 5.0
CLAIMED_TASK_POLL_S = 0.05


def _forge() -> Forge:
    try:
        return Forge.connect()
    except NotConfigured:
        raise Conflict("GitHub is not connected: set the GITHUB_TOKEN secret") from None


def _github_repos(repo_id: str | None) -> list[tuple[RepoModel, str]]:
    if repo_id:
        repo = repos.get(repo_id)
        full_name = full_name_of(repo.repoUrl)
        if full_name is None:
            raise ValidationFailed("not a GitHub repository",
                                   [FieldProblem("repoId", "the repository is not on GitHub")])
        return [(repo, full_name)]
    found: list[tuple[RepoModel, str]] = []
    cursor: str | None = None
    while True:
        page = repos.list_repos(200, cursor)
        found.extend((r, n) for r in page.items if (n := full_name_of(r.repoUrl)) is not None)
        if not page.next_cursor:
            return found
        cursor = page.next_cursor


def _call(what: str, act: Any) -> Any:
    try:
        return act()
    except Throttled as throttled:
        raise Conflict(f"GitHub is rate limiting; try again in {throttled.wait_s:.0f} s",
                       retryAfterS=int(throttled.wait_s)) from None
    except ForgeError as error:
        raise Conflict(f"GitHub refused {what}: {error}") from None


def list_issues(repo_id: str | None, state: str | None) -> list[dict[str, Any]]:
    state = state or "open"
    if state not in ISSUE_STATES:
        raise ValidationFailed("invalid state", [FieldProblem("state", "must be open, closed or all")])
    forge = _forge()
    items: list[dict[str, Any]] = []
    for repo, full_name in _github_repos(repo_id):
        for issue in _call("listing issues", lambda f=full_name: forge.open_issues(f, state)):
            items.append({
                "repoId": repo.id, "repoName": full_name, "number": int(issue.number),
                "title": issue.title, "body": issue.body, "state": issue.state, "url": issue.html_url,
                "labels": [label.name for label in issue.labels],
                "assignee": issue.assignee.login if issue.assignee else None,
                "createdAt": _iso(issue.created_at), "updatedAt": _iso(issue.updated_at),
            })
    linked = claims.holders(sorted({issue_key(i["repoId"], i["number"]) for i in items}))
    found = {t.id: t for t in executions.batch(sorted(set(linked.values())))}
    for item in items:
        task = found.get(linked.get(issue_key(item["repoId"], item["number"]), ""))
        item["task"] = {"taskId": task.id, "state": task.state} if task else None
    items.sort(key=listing_order)
    return items


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    text = value.isoformat()
    return str(text.replace("+00:00", "Z"))


def assign(body: Any) -> tuple[ExecutionModel, bool]:
    """The issue's task, created (True) or the one created before (False)."""
    given = require_valid(ISSUE_ASSIGN, body)
    repo = repos.get(given["repoId"])
    full_name = full_name_of(repo.repoUrl)
    if full_name is None:
        raise ValidationFailed("not a GitHub repository",
                               [FieldProblem("repoId", "the repository is not on GitHub")])
    number = int(given["issueNumber"])
    key = issue_key(repo.id, number)
    existing = claims.holder(key)
    if existing is not None:
        return _claimed_task(key, existing), False
    forge = _forge()
    try:
        issue = _call("reading the issue", lambda: _issue(forge, full_name, number))
        title = str(issue.title)
    except _Missing:
        raise NotFound(f"issue #{number} not found in {full_name}") from None
    comments = _call("reading the comments", lambda: forge.comments(issue))
    task_id = str(uuid.uuid4())
    holder = claims.claim(key, task_id, utcnow())
    if holder is not None:
        return _claimed_task(key, holder), False
    task_body: dict[str, Any] = {
        "title": title[:200], "repoId": repo.id,
        "prompt": issue_prompt(title, issue.body, issue.html_url, comments),
        "metadata": {"issueNumber": number, "issueUrl": issue.html_url, "source": "github"},
    }
    if given.get("agentType"):
        task_body["agentType"] = given["agentType"]
    try:
        task = create_task(task_body, id=task_id, branchName=branch_name(title[:200], task_id))
    except Exception:
        claims.release(key, task_id)
        raise
    announce(forge, full_name, number, task)
    return task, True


def _claimed_task(key: str, holder: str) -> ExecutionModel:
    """The task of a claim another request made: a sync or a webhook that claimed the issue first
    writes its task a moment later, so its row is waited for, not reported missing."""
    deadline = time.monotonic() + CLAIMED_TASK_WAIT_S
    while True:
        try:
            return executions.get(holder, ExecutionKind.REPO_TASK)
        except NotFound:
            pass
        if claims.holder(key) != holder or time.monotonic() > deadline:
            # Released (its creation failed) or still not written: nothing to return yet.
            raise Conflict("the issue's task is being created by another request; try again",
                           taskId=holder) from None
        time.sleep(CLAIMED_TASK_POLL_S)


class _Missing(Exception):
    pass


def _issue(forge: Forge, full_name: str, number: int) -> Any:
    try:
        issue = forge.issue(full_name, number)
        issue.title  # noqa: B018 - a lazy object: reading it fetches it
        return issue
    except ForgeError as error:
        if "answered 404" in str(error) or "pull request" in str(error):
            raise _Missing() from None
        raise


def announce(forge: Forge, full_name: str, number: int, task: ExecutionModel) -> None:
    """Comment and label: best effort, the task exists either way."""
    try:
        forge.comment(full_name, number, f"Optio is working on this issue (task `{task.id}`). "
                                         "A pull request will be linked here when it is ready.")
        forge.label(full_name, number)
    except Exception:
        logger.exception("issue.announce_failed", extra={"taskId": task.id, "issue": number})
