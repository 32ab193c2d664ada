"""The runner opens or finds the task's pull request on the GitHub stand-in after the push; git
reaches the local bare repository through git's own URL rewriting (GIT_CONFIG_*)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from optio_runner.github import pr_body, pr_of_repo
from test_runner_end_to_end import BRANCH, Harness, collector, harness, origin, remote_sha  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakes.github_api import FakeGitHub  # noqa: E402

REPO = "acme/webapp"
REPO_URL = f"https://github.com/{REPO}"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    server = FakeGitHub().start()
    server.add_repo(REPO)
    yield server
    server.stop()


def github_env(runner: Harness, fake: FakeGitHub, **extra: str) -> dict[str, str]:
    return {
        "OPTIO_REPO_URL": REPO_URL,
        "OPTIO_GITHUB_API_URL": fake.url,
        "GITHUB_TOKEN": fake.token,
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"url.file://{runner.tmp_path}/.insteadOf",
        "GIT_CONFIG_VALUE_0": "https://github.com/",
        **extra,
    }


@pytest.fixture
def routed(harness: Harness) -> Harness:  # noqa: F811
    # https://github.com/acme/webapp -> file://<tmp>/acme/webapp
    target = harness.tmp_path / "acme" / "webapp"
    target.parent.mkdir(parents=True, exist_ok=True)
    harness.origin.rename(target)
    harness.origin = target
    return harness


def test_opens_a_pr_that_closes_the_issue_then_finds_it_on_the_next_attempt(
    routed: Harness, fake: FakeGitHub
) -> None:
    done = routed.run("add a greeting", **github_env(routed, fake, OPTIO_ISSUE_NUMBER="7"))
    assert done.returncode == 0, done.stderr
    result = routed.collector.result()
    assert remote_sha(routed.origin, BRANCH), result["error"]
    [pr] = fake.pulls(REPO)
    assert result["prUrl"] == pr["html_url"] and result["prNumber"] == pr["number"]
    assert pr["head"]["ref"] == BRANCH and pr["base"]["ref"] == "main" and pr["title"] == "Add a greeting"
    assert "Closes #7" in pr["body"]
    routed.collector.posts.clear()
    again = routed.run("more work", **github_env(routed, fake, OPTIO_ATTEMPT="2"))
    assert again.returncode == 0, again.stderr
    assert routed.collector.result()["prUrl"] == pr["html_url"]
    assert len(fake.pulls(REPO)) == 1


def test_without_a_token_no_pr_and_the_branch_is_pushed(routed: Harness, fake: FakeGitHub) -> None:
    env = github_env(routed, fake, GITHUB_TOKEN="")
    done = routed.run("add a greeting", **env)
    assert done.returncode == 0, done.stderr
    result = routed.collector.result()
    assert result["prUrl"] is None and result["pushed"] is True
    assert fake.pulls(REPO) == []


def test_a_github_failure_is_logged_not_fatal(routed: Harness, fake: FakeGitHub) -> None:
    done = routed.run("add a greeting", **github_env(routed, fake, GITHUB_TOKEN="wrong"))
    assert done.returncode == 0, done.stderr
    assert routed.collector.result()["prUrl"] is None
    assert routed.collector.saw_log("could not open the pull request")


def test_printed_pr_urls_count_only_for_the_tasks_repo() -> None:
    text = "see https://github.com/other/repo/pull/3 and https://github.com/acme/webapp/pull/9"
    assert pr_of_repo(text, REPO) == ("https://github.com/acme/webapp/pull/9", 9)
    assert pr_of_repo("https://github.com/other/repo/pull/3", REPO) is None
    assert pr_body("Did it.", 4) == "Did it.\n\nCloses #4\n\n_Opened by Optio._"
