"""GitHub through PyGithub (`base_url` = `OPTIO_GITHUB_API_URL`, token = the `GITHUB_TOKEN` secret):
pull request state, checks, reviews, merge; issues, comments, labels.

Throttling is never an error of a task: a 403/429 with `Retry-After` or an exhausted
`X-RateLimit-Remaining` raises `Throttled(wait_s)`, and callers back off without changing state.
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from chalicelib.core.pull_requests import (
    CheckRun,
    ChecksStatus,
    CommitStatus,
    FailingCheck,
    PrState,
    PrView,
    ReviewNote,
    ReviewStatus,
    ci_verdict,
)
from chalicelib.settings import settings
from chalicelib.store import secrets

if TYPE_CHECKING:
    from github import Github

TOKEN_SECRET = "GITHUB_TOKEN"
OPTIO_LABEL = "optio"
OPTIO_LABEL_COLOR = "7057ff"
DEFAULT_BACKOFF_S = 60.0
_PR_PATH = re.compile(r"^/(?P<owner>[^/]+)/(?P<repo>[^/]+)/pull/(?P<number>\d+)/?$")


class NotConfigured(Exception):
    """No `GITHUB_TOKEN` secret."""


class Throttled(Exception):
    def __init__(self, wait_s: float) -> None:
        super().__init__(f"GitHub rate limit: retry in {wait_s:.0f} s")
        self.wait_s = wait_s


class ForgeError(Exception):
    """GitHub refused or failed a request (not throttling)."""


def full_name_of(repo_url: str) -> str | None:
    """`owner/repo` of a registered https repository URL; None for local remotes."""
    parts = urlsplit(repo_url)
    if parts.scheme != "https":
        return None
    path = parts.path.strip("/")
    if path.endswith(".git"):
        path = path[:-4]
    return path.lower() if path.count("/") == 1 else None


def parse_pr_url(pr_url: str) -> tuple[str, int] | None:
    match = _PR_PATH.match(urlsplit(pr_url).path)
    if not match:
        return None
    return f"{match.group('owner')}/{match.group('repo')}".lower(), int(match.group("number"))


def wait_of(headers: dict[str, Any] | None, now: float | None = None) -> float | None:
    """Seconds to wait from a throttled answer's headers, or None when it was not throttling."""
    found = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
    if "retry-after" in found:
        try:
            return max(1.0, float(found["retry-after"]))
        except ValueError:
            return DEFAULT_BACKOFF_S
    if found.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in found:
        try:
            return max(1.0, float(found["x-ratelimit-reset"]) - (now or time.time()))
        except ValueError:
            return DEFAULT_BACKOFF_S
    return None


@contextmanager
def _github_errors() -> Iterator[None]:
    # PyGithub is imported where it is used: it is a tenth of a cold start, and most requests
    # never talk to GitHub.
    from github import GithubException

    try:
        yield
    except GithubException as error:
        wait = wait_of(error.headers) if error.status in (403, 429) else None
        if wait is not None or error.status == 429:
            raise Throttled(wait or DEFAULT_BACKOFF_S) from None
        raise ForgeError(f"GitHub answered {error.status}: {error.data}") from error


@dataclass
class Forge:
    client: Github

    @classmethod
    def connect(cls, token: str | None = None, base_url: str | None = None) -> Forge:
        token = token or secrets.value_of(TOKEN_SECRET)
        if not token:
            raise NotConfigured("no GITHUB_TOKEN secret")
        from github import Auth, Github

        client = Github(base_url=base_url or settings.github_api_url, auth=Auth.Token(token), retry=None, timeout=10,
                        per_page=100, seconds_between_requests=None, seconds_between_writes=None)
        return cls(client)

    def _repo(self, full_name: str) -> Any:
        return self.client.get_repo(full_name, lazy=True)

    # -- pull requests ---------------------------------------------------------------------
    def observe(self, full_name: str, number: int) -> PrView:
        with _github_errors():
            repo = self._repo(full_name)
            pr = repo.get_pull(number)
            state = PrState.MERGED if pr.merged else PrState(str(pr.state))
            sha = str(pr.head.sha)
            if state is not PrState.OPEN:
                return PrView(state=state, head_sha=sha, mergeable=pr.mergeable)
            checks, failing = self._checks(repo, sha)
            review, review_id, notes = self._review(pr)
            return PrView(state=PrState.OPEN, checks=checks, review=review, mergeable=pr.mergeable, head_sha=sha,
                          review_id=review_id, failing_checks=failing, review_notes=notes)

    def _checks(self, repo: Any, sha: str) -> tuple[ChecksStatus, tuple[FailingCheck, ...]]:
        """Check runs (GitHub Actions, apps) and the combined commit status (CI that reports
        statuses: Jenkins, CircleCI, Buildkite...) decide together."""
        commit = repo.get_commit(sha)
        runs = [CheckRun(str(run.name), str(run.status), run.conclusion, _output_text(run.output))
                for run in commit.get_check_runs()]
        combined = commit.get_combined_status()
        statuses = [CommitStatus(str(s.context), str(s.state), str(s.description or ""), str(s.target_url or ""))
                    for s in combined.statuses]
        return ci_verdict(runs, str(combined.state) if combined.total_count else None, statuses)

    def _review(self, pr: Any) -> tuple[ReviewStatus, str | None, tuple[ReviewNote, ...]]:
        latest: dict[str, Any] = {}
        for review in pr.get_reviews():
            if review.state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
                latest[review.user.login if review.user else "?"] = review
        states = [r.state for r in latest.values()]
        if "CHANGES_REQUESTED" not in states:
            return (ReviewStatus.APPROVED if "APPROVED" in states else ReviewStatus.PENDING), None, ()
        asking = [r for r in latest.values() if r.state == "CHANGES_REQUESTED"]
        ids = {r.id for r in asking}
        notes = [ReviewNote(None, None, str(r.body)) for r in asking if r.body]
        for comment in pr.get_review_comments():
            if comment.pull_request_review_id in ids:
                notes.append(ReviewNote(comment.path, comment.line, str(comment.body)))
        review_id = str(max(ids))
        return ReviewStatus.CHANGES_REQUESTED, review_id, tuple(notes)

    def merge(self, full_name: str, number: int, title: str) -> None:
        with _github_errors():
            pr = self._repo(full_name).get_pull(number)
            status = pr.merge(merge_method="squash", commit_title=f"{title} (#{number})")
            if not status.merged:
                raise ForgeError(f"GitHub did not merge #{number}: {status.message}")

    # -- issues ----------------------------------------------------------------------------
    def open_issues(self, full_name: str, state: str = "open") -> list[Any]:
        """Issues, not pull requests (GitHub lists both)."""
        with _github_errors():
            return [i for i in self._repo(full_name).get_issues(state=state) if i.pull_request is None]

    def issue(self, full_name: str, number: int) -> Any:
        with _github_errors():
            issue = self._repo(full_name).get_issue(number)
            if issue.pull_request is not None:
                raise ForgeError(f"#{number} is a pull request, not an issue")
            return issue

    def comments(self, issue: Any) -> list[str]:
        with _github_errors():
            return [str(c.body) for c in issue.get_comments()]

    def comment(self, full_name: str, number: int, body: str) -> None:
        with _github_errors():
            self._repo(full_name).get_issue(number).create_comment(body)

    def close_issue(self, full_name: str, number: int, comment: str) -> None:
        with _github_errors():
            # A lazy issue: two requests, and closing a closed issue is harmless.
            issue = self._repo(full_name).get_issue(number)
            issue.create_comment(comment)
            issue.edit(state="closed")

    def label(self, full_name: str, number: int, name: str = OPTIO_LABEL,
              color: str = OPTIO_LABEL_COLOR) -> None:
        """Adds the label, creating it in the repository first when it is missing."""
        from github import GithubException, UnknownObjectException

        with _github_errors():
            repo = self._repo(full_name)
            try:
                # A lazy object: reading an attribute fetches it (404 when missing).
                repo.get_label(name).color  # noqa: B018
            except UnknownObjectException:
                try:
                    repo.create_label(name, color)
                except GithubException as error:
                    if error.status != 422:  # created meanwhile
                        raise
            repo.get_issue(number).add_to_labels(name)


def _output_text(output: Any) -> str:
    if output is None:
        return ""
    parts = [getattr(output, "title", None), getattr(output, "summary", None), getattr(output, "text", None)]
    return "\n".join(str(p) for p in parts if p)
