"""The runner's checkout (issue 18, point 2): over a transport the clone is blobless and the branch
logic (continue the pushed branch, compare with the base, push) works the same on it; the clone
runs while the start is being reported, but setup and the agent wait for the server to take it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.runner import test_runner_end_to_end as e2e
from tests.runner.test_runner_end_to_end import BRANCH, Harness, git, remote_file, remote_sha

# The end-to-end tests' fixtures: a collector standing in for the API, a bare origin, the harness.
collector, origin, harness = e2e.collector, e2e.origin, e2e.harness


def _config(repo: Path, key: str) -> str:
    done = subprocess.run(["git", "config", "--get", key], cwd=repo, capture_output=True, text=True)
    return done.stdout.strip()


def test_a_blobless_clone_continues_compares_and_pushes(harness: Harness) -> None:
    git("--git-dir", harness.origin, "config", "uploadpack.allowFilter", "true")
    url = harness.origin.as_uri()  # file://: a transport, as https is on a real forge

    assert harness.run("First pass", "ws1", OPTIO_REPO_URL=url).returncode == 0
    clone = harness.tmp_path / "ws1" / "repo"
    assert _config(clone, "remote.origin.promisor") == "true"  # blobless, not a full copy
    assert _config(clone, "user.name") == "Optio"  # the identity came with the clone
    first = remote_sha(harness.origin, BRANCH)

    # A fresh pod continues the pushed branch; then one that changes nothing still counts it.
    assert harness.run("Second pass", "ws2", OPTIO_REPO_URL=url, OPTIO_ATTEMPT="2").returncode == 0
    second = remote_sha(harness.origin, BRANCH)
    assert git("--git-dir", harness.origin, "rev-parse", f"{second}^") == first
    assert remote_file(harness.origin, BRANCH, "OPTIO_FAKE.md") == "First pass\nSecond pass"
    assert harness.run("[fake:noop] look again", "ws3", OPTIO_REPO_URL=url, OPTIO_ATTEMPT="3").returncode == 0

    results = harness.collector.results()
    assert [(r["result"], r["changed"], r["pushed"]) for r in results] == [("success", True, True)] * 3
    assert results[-1]["commitSha"] == second


@pytest.mark.parametrize("status,exit_code", [(409, 0), (401, 1)])
def test_a_start_the_server_refuses_runs_no_setup_and_no_agent(harness: Harness, status: int,
                                                               exit_code: int) -> None:
    harness.collector.answer = lambda body: status if body["kind"] == "started" else None
    marker = harness.tmp_path / "setup-ran"
    setup = json.dumps([f"touch {marker}"])

    assert harness.run("Refused", OPTIO_SETUP_COMMANDS=setup).returncode == exit_code

    assert not marker.exists()
    assert harness.launches() == []
    assert [post.body["kind"] for post in harness.collector.posts] == ["started"]  # no logs, no result
