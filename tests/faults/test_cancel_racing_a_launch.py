"""Fault: a cancel that races the launch of its task's agent — right after the create, while the
task is provisioning, just as it starts running. Every task ends cancelled, stays cancelled, and
no agent or runner of it is left behind."""
from __future__ import annotations

from typing import Any

import pytest

from tests.support.localmode import LocalMode
from tests.support.processes import alive
from tests.support.waiting import wait_for

pytestmark = pytest.mark.xdist_group("faults-cancel-race")


def test_cancel_racing_a_launch(local_mode: LocalMode, repo_id: str) -> None:
    api = local_mode.api

    def create(i: int) -> dict[str, Any]:
        return api.ok("POST", "/api/tasks", {"title": f"Race {i}", "prompt": "[fake:sleep=60] race",
                                             "repoId": repo_id}, status=201)  # type: ignore[no-any-return]

    cancelled: list[str] = []
    for i, moment in enumerate(["created", "queued", "provisioning", "running"] * 2):
        task = create(i)
        if moment != "created":
            # The task passes through quickly: cancel at the first sight of it, or later.
            wait_for(lambda t=task, m=moment: (s := api.task(t["id"])["state"]) == m or s in ("running",),
                     interval_s=0.005, what=f"task {i} {moment}")
        answer = api.post(f"/api/tasks/{task['id']}/cancel")
        assert answer.status_code == 200, answer.text
        cancelled.append(task["id"])

    for task_id in cancelled:
        assert api.wait_state(task_id, "cancelled")["state"] == "cancelled"
    work = local_mode.data_dir / "work"

    def nothing_left() -> bool:
        runs = [r for r in local_mode.agent_runs() if any(t in str(r["cwd"]) for t in cancelled)]
        entries = list(work.iterdir()) if work.exists() else []
        workspaces = [p for p in entries if p.is_dir() and any(p.name.startswith(t) for t in cancelled)]
        return not workspaces and not [r for r in runs if alive(int(r["pid"]))]

    # The agents would work for 60 s: gone well before that, they were stopped.
    wait_for(nothing_left, timeout_s=30, what="every agent and runner of the cancelled tasks to be gone")
    for task_id in cancelled:
        events = api.ok("GET", f"/api/tasks/{task_id}/events")["items"]
        assert events[-1]["to"] == "cancelled" and [e["to"] for e in events].count("cancelled") == 1
