"""Fault: an agent that stops being heard from. Local mode runs with a heartbeat interval far
beyond the stall threshold, so after the runner's start no heartbeat comes while the agent works
on (`[fake:sleep=60]`). The resync fails the attempt as `stalled`, stops its agent, and the task is
retried by the retry policy (here one retry, which stalls too); then it stays failed. Nothing is
lost: every attempt is recorded and no agent of the task is left running."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.gitrepo import make_bare_repo
from tests.support.localmode import LocalMode, start_local_mode
from tests.support.processes import alive
from tests.support.waiting import wait_for

pytestmark = pytest.mark.xdist_group("faults-stall")

STALL_THRESHOLD_MS = 4000


@pytest.fixture(scope="module")
def stalling_mode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMode]:
    mode = start_local_mode(tmp_path_factory.mktemp("stall"), OPTIO_STALL_THRESHOLD_MS=str(STALL_THRESHOLD_MS),
                            OPTIO_HEARTBEAT_INTERVAL_MS="3600000")
    yield mode
    mode.stop()


def test_a_stall(stalling_mode: LocalMode, tmp_path: Path) -> None:
    api = stalling_mode.api
    repo = api.ok("POST", "/api/repos", {"repoUrl": str(make_bare_repo(tmp_path))}, status=201)
    task = api.ok("POST", "/api/tasks", {"title": "Stalls", "prompt": "[fake:sleep=60] work quietly",
                                         "repoId": repo["id"], "maxRetries": 1}, status=201)

    def events() -> list[dict[str, object]]:
        return api.ok("GET", f"/api/tasks/{task['id']}/events")["items"]  # type: ignore[no-any-return]

    # Two attempts, each stalled; the agent would have worked for 60 s.
    wait_for(lambda: [e["to"] for e in events()].count("failed") == 2 and api.task(task["id"])["state"] == "failed",
             timeout_s=120, interval_s=0.2, what="both attempts of the task to stall")
    done = api.task(task["id"])
    assert (done["state"], done["errorKind"], done["retryCount"]) == ("failed", "stalled", 1), done
    assert "no heartbeat from the agent" in done["errorMessage"]
    history = events()
    assert [e["to"] for e in history] == ["pending", "queued", "provisioning", "running", "failed",
                                          "queued", "provisioning", "running", "failed"]
    failures = [str(e["message"]) for e in history if e["to"] == "failed"]
    assert all("no heartbeat from the agent" in message for message in failures), failures
    assert "automatic retry 1 of 1" in str(history[5]["message"])

    # Each attempt's agent was stopped, well before its 60 s of work.
    def runs() -> list[dict[str, object]]:
        return [r for r in stalling_mode.agent_runs() if task["id"] in str(r["cwd"])]

    # An agent is started right after its runner's start report; on a loaded machine that may take
    # longer than the stall threshold, and then the runner is stopped before its agent.
    assert 1 <= len(runs()) <= 2
    wait_for(lambda: not [r for r in runs() if alive(int(str(r["pid"])))], timeout_s=30,
             what="the stalled agents to be gone")
    # Not retried again: the policy's one retry is spent.
    assert api.task(task["id"])["state"] == "failed" and len(runs()) <= 2
