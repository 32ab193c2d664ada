"""The forge (PyGithub) against the GitHub stand-in over real HTTP."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from chalicelib.forge.github import Forge, ForgeError, Throttled, full_name_of, parse_pr_url, wait_of
from tests.fakes.github_api import FakeGitHub

REPO = "acme/webapp"


@pytest.fixture()
def fake() -> Iterator[FakeGitHub]:
    server = FakeGitHub().start()
    server.add_repo(REPO)
    yield server
    server.stop()


@pytest.fixture()
def forge(fake: FakeGitHub) -> Forge:
    return Forge.connect(fake.token, base_url=fake.url)


def open_pr(fake: FakeGitHub) -> dict[str, object]:
    status, pr, _ = fake.handle("POST", f"/repos/{REPO}/pulls", {},
                                {"title": "T", "head": "acme:optio/t", "base": "main"}, f"token {fake.token}")
    assert status == 201
    return pr  # type: ignore[no-any-return]


def test_urls() -> None:
    assert full_name_of("https://github.com/Acme/WebApp") == "acme/webapp"
    assert full_name_of("file:///tmp/x") is None
    assert parse_pr_url("https://github.com/acme/webapp/pull/12") == ("acme/webapp", 12)
    assert parse_pr_url("https://github.com/acme/webapp/issues/12") is None
    assert wait_of({"Retry-After": "7"}) == 7
    assert wait_of({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1100"}, now=1000) == 100
    assert wait_of({"X-RateLimit-Remaining": "10"}) is None


def test_observe_checks_reviews_and_merge(fake: FakeGitHub, forge: Forge) -> None:
    pr = open_pr(fake)
    number = int(str(pr["number"]))
    sha = str(pr["head"]["sha"])  # type: ignore[index]
    assert forge.observe(REPO, number).checks == "none"
    fake.set_checks(REPO, sha, [("lint", "success", ""), ("unit", None, "")])
    assert forge.observe(REPO, number).checks == "pending"
    fake.set_checks(REPO, sha, [("lint", "success", ""), ("unit", "failure", "2 tests failed")])
    seen = forge.observe(REPO, number)
    assert seen.checks == "failing" and seen.failing_checks[0].name == "unit"
    assert "2 tests failed" in seen.failing_checks[0].output and seen.head_sha == sha
    fake.add_review(REPO, number, "CHANGES_REQUESTED", "see comments", (("a.py", 3, "rename this"),))
    seen = forge.observe(REPO, number)
    assert seen.review == "changes_requested" and seen.review_id
    assert ("a.py", 3, "rename this") in [(n.path, n.line, n.body) for n in seen.review_notes]
    fake.add_review(REPO, number, "APPROVED")
    assert forge.observe(REPO, number).review == "approved"
    fake.set_mergeable(REPO, number, False)
    assert forge.observe(REPO, number).mergeable is False
    with pytest.raises(ForgeError):
        forge.merge(REPO, number, "T")
    fake.set_mergeable(REPO, number, True)
    forge.merge(REPO, number, "T")
    assert fake.merges == [(REPO, number, "squash")]
    assert forge.observe(REPO, number).state == "merged"


def test_closed_pr(fake: FakeGitHub, forge: Forge) -> None:
    number = int(str(open_pr(fake)["number"]))
    fake.close_pr(REPO, number)
    assert forge.observe(REPO, number).state == "closed"


def test_throttling_raises_throttled_without_retrying(fake: FakeGitHub, forge: Forge) -> None:
    number = int(str(open_pr(fake)["number"]))
    fake.throttle_once(403, retry_after=3)
    with pytest.raises(Throttled) as caught:
        forge.observe(REPO, number)
    assert caught.value.wait_s == 3
    fake.throttle_once(429, retry_after=None, reset_in=30)
    with pytest.raises(Throttled) as caught:
        forge.observe(REPO, number)
    assert 20 < caught.value.wait_s <= 31
    assert forge.observe(REPO, number).state == "open"


def test_issues_comments_labels_close(fake: FakeGitHub, forge: Forge) -> None:
    issue = fake.add_issue(REPO, "Bug", "It breaks")
    open_pr(fake)
    fake.add_comment(REPO, issue["number"], "also on mobile")
    assert [i.number for i in forge.open_issues(REPO)] == [issue["number"]]
    got = forge.issue(REPO, issue["number"])
    assert forge.comments(got) == ["also on mobile"]
    forge.label(REPO, issue["number"])
    forge.label(REPO, issue["number"])
    assert [label["name"] for label in fake.issue(REPO, issue["number"])["labels"]] == ["optio"]
    assert fake.repos[REPO].labels["optio"]["color"] == "7057ff"
    forge.close_issue(REPO, issue["number"], "done in #2")
    assert fake.issue(REPO, issue["number"])["state"] == "closed"
    assert fake.comments(REPO, issue["number"])[-1] == "done in #2"
