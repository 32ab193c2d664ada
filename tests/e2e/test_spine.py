"""A repo task end to end in local mode: stream fan-out, reconciler, local launcher, the real
runner, git, and the stand-in `claude`."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.support.gitrepo import branch_file
from tests.support.localmode import LocalMode
from tests.support.waiting import wait_for

pytestmark = pytest.mark.xdist_group("e2e-spine")


def create(mode: LocalMode, repo: Path, prompt: str, **fields: Any) -> dict[str, Any]:
    body = {"title": fields.pop("title", "Add a greeting"), "prompt": prompt,
            "repoUrl": str(repo), **fields}
    return mode.api.ok("POST", "/api/tasks", body, status=201)  # type: ignore[no-any-return]


def test_a_task_completes_and_its_branch_holds_the_change(local_mode: LocalMode, repo_path: Path) -> None:
    task = create(local_mode, repo_path, "Write a greeting")
    done = local_mode.api.wait_state(task["id"], {"completed", "failed", "needs_attention"})
    assert done["state"] == "completed", done
    assert done["costUsd"] == pytest.approx(0.0123)
    assert done["inputTokens"] and done["outputTokens"] and done["modelUsed"]
    assert done["startedAt"] and done["completedAt"]
    content = branch_file(repo_path, task["branchName"], "OPTIO_FAKE.md")
    assert content is not None and "Write a greeting" in content
    lines = local_mode.api.logs(task["id"])
    assert lines and [line["seq"] for line in lines] == list(range(1, len(lines) + 1))
    assert {"text", "tool_use"} <= {line["type"] for line in lines}
    states = [e["to"] for e in local_mode.api.ok("GET", f"/api/tasks/{task['id']}/events")["items"]]
    assert states == ["pending", "queued", "provisioning", "running", "completed"]


def test_a_failing_agent_is_retried_then_fails_with_the_reason(local_mode: LocalMode, repo_path: Path) -> None:
    task = create(local_mode, repo_path, "[fake:fail] break", title="Always fails", maxRetries=2)
    failed = local_mode.api.wait_state(task["id"], "failed", timeout_s=30)

    def exhausted() -> dict[str, Any] | None:
        current = local_mode.api.task(task["id"])
        return current if current["state"] == "failed" and current["retryCount"] == 2 else None

    failed = wait_for(exhausted, timeout_s=60, what="retries to run out")
    assert "simulated failure" in failed["errorMessage"]
    runs = [r for r in local_mode.agent_runs() if task["id"] in str(r["cwd"])]
    assert len(runs) == 3
    events = local_mode.api.ok("GET", f"/api/tasks/{task['id']}/events")["items"]
    assert sum(1 for e in events if e["to"] == "failed") == 3
    assert sum(1 for e in events if e["message"].startswith("automatic retry")) == 2


def test_cancel_stops_the_agent(local_mode: LocalMode, repo_path: Path) -> None:
    task = create(local_mode, repo_path, "[fake:sleep=60] take your time", title="Slow one")
    local_mode.api.wait_state(task["id"], "running")
    run = wait_for(lambda: next((r for r in local_mode.agent_runs() if task["id"] in str(r["cwd"])), None),
                   what="the agent to start")
    pid = int(str(run["pid"]))
    cancelled = local_mode.api.ok("POST", f"/api/tasks/{task['id']}/cancel")
    assert cancelled["state"] == "cancelled"

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    # The agent would work for 60 s: gone well before that, it was stopped, not left to finish.
    wait_for(gone, timeout_s=30, what="the agent process to exit")
    assert local_mode.api.task(task["id"])["state"] == "cancelled"


def test_never_more_than_the_limit_run_and_all_finish(local_mode: LocalMode, repo_path: Path) -> None:
    repo = local_mode.api.ok("POST", "/api/repos", {"repoUrl": str(repo_path), "maxConcurrentTasks": 6},
                             status=201)
    ids = [
        local_mode.api.ok("POST", "/api/tasks", {
            "title": f"Slow {i}", "prompt": f"[fake:sleep=1.5] [fake:file=f{i}.txt] task {i}",
            "repoId": repo["id"]}, status=201)["id"]
        for i in range(6)
    ]
    for task_id in ids:
        local_mode.api.wait_state(task_id, "completed", timeout_s=90)

    # A slot is held from the transition into provisioning to the one out of running: the
    # recorded events give those instants exactly, so the overlap below is the real one.
    def slot_interval(task_id: str) -> tuple[str, str]:
        events = local_mode.api.ok("GET", f"/api/tasks/{task_id}/events")["items"]
        taken = next(e["at"] for e in events if e["to"] == "provisioning")
        released = next(e["at"] for e in events if e["from"] == "running")
        return taken, released

    intervals = [slot_interval(i) for i in ids]
    held_at_once = max(sum(1 for s, e in intervals if s <= start < e) for start, _ in intervals)
    assert held_at_once == 2, intervals


def test_bad_input_gets_400_naming_the_field(local_mode: LocalMode) -> None:
    response = local_mode.api.post("/api/tasks", {"title": "x", "prompt": "y", "repoUrl": "/no/such/repo"})
    assert response.status_code == 400
    assert response.json()["details"] == [{"field": "repoUrl", "problem": "no git repository at this path"}]
