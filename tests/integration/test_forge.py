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


def test_commit_statuses_count_as_ci_with_the_check_runs(fake: FakeGitHub, forge: Forge) -> None:
    pr = open_pr(fake)
    number = int(str(pr["number"]))
    sha = str(pr["head"]["sha"])  # type: ignore[index]
    fake.set_status(REPO, sha, "ci/jenkins", "pending", "Build #7 running", "https://ci.example.com/7")
    assert forge.observe(REPO, number).checks == "pending"
    fake.set_status(REPO, sha, "ci/jenkins", "failure", "Build #7 failed: 3 tests", "https://ci.example.com/7")
    seen = forge.observe(REPO, number)
    assert seen.checks == "failing"
    assert [(c.name, c.output, c.url) for c in seen.failing_checks] == [
        ("ci/jenkins", "Build #7 failed: 3 tests", "https://ci.example.com/7")]
    # A newer status of the same context replaces the older one; the check runs still count.
    fake.set_status(REPO, sha, "ci/jenkins", "success", "Build #8 passed", "https://ci.example.com/8")
    assert forge.observe(REPO, number).checks == "passing"
    fake.set_checks(REPO, sha, [("lint", None, "")])
    assert forge.observe(REPO, number).checks == "pending"
    fake.set_checks(REPO, sha, [("lint", "success", "")])
    fake.set_status(REPO, sha, "security/snyk", "error", "Could not scan")
    seen = forge.observe(REPO, number)
    assert seen.checks == "failing" and [c.name for c in seen.failing_checks] == ["security/snyk"]
    assert ("GET", f"/repos/{REPO}/commits/{sha}/status") in fake.requests


def test_the_status_stand_in_pages_and_validates_as_github_documents(fake: FakeGitHub) -> None:
    auth = f"token {fake.token}"
    for n in range(35):
        fake.set_status(REPO, "s" * 40, f"ci/{n:02}", "success")
    fake.set_status(REPO, "s" * 40, "ci/34", "failure", "late")
    code, combined, _ = fake.handle("GET", f"/repos/{REPO}/commits/{'s' * 40}/status", {}, None, auth)
    assert (code, combined["state"], combined["total_count"], len(combined["statuses"])) == (200, "failure", 35, 30)
    _, rest, _ = fake.handle("GET", f"/repos/{REPO}/commits/{'s' * 40}/status", {"page": "2"}, None, auth)
    assert [s["context"] for s in rest["statuses"]] == ["ci/30", "ci/31", "ci/32", "ci/33", "ci/34"]
    _, every, _ = fake.handle("GET", f"/repos/{REPO}/commits/{'s' * 40}/statuses", {"per_page": "100"}, None, auth)
    assert len(every) == 36 and every[0]["state"] == "failure"
    code, error, _ = fake.handle("POST", f"/repos/{REPO}/statuses/{'s' * 40}", {}, {"state": "green"}, auth)
    assert code == 422 and error["errors"][0]["field"] == "state"
    _, empty, _ = fake.handle("GET", f"/repos/{REPO}/commits/{'e' * 40}/status", {}, None, auth)
    assert (empty["state"], empty["total_count"]) == ("pending", 0)


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
