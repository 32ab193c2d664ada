"""Fault: the runner of an attempt reports after its task has come to rest (completed, cancelled,
failed, needs attention) with its own valid token, in every kind of report. Each answers 409 with
the state, and the task, its events and its logs stay as they were."""
from __future__ import annotations

from typing import Any

import pytest
import requests

from chalicelib.core.tokens import run_token
from tests.support.localmode import LocalMode

pytestmark = pytest.mark.xdist_group("faults-late-report")

REPORTS: list[dict[str, Any]] = [
    {"kind": "started"},
    {"kind": "heartbeat", "costUsd": 9.5},
    {"kind": "logs", "lines": [{"type": "text", "content": "a late line"}]},
    {"kind": "result", "result": "success", "changed": True, "pushed": True, "costUsd": 9.5},
    {"kind": "result", "result": "failure", "error": "late failure"},
]


@pytest.mark.parametrize("prompt,rest", [
    ("write it", "completed"), ("[fake:noop]", "needs_attention"), ("[fake:fail]", "failed"),
    ("[fake:sleep=60]", "cancelled"),
])
def test_late_report_after_a_terminal_state(local_mode: LocalMode, repo_id: str, prompt: str, rest: str) -> None:
    api = local_mode.api
    task = api.ok("POST", "/api/tasks", {"title": f"Late {rest}", "prompt": prompt, "repoId": repo_id,
                                         "maxRetries": 0}, status=201)
    if rest == "cancelled":
        api.wait_state(task["id"], "running", timeout_s=60)
        api.ok("POST", f"/api/tasks/{task['id']}/cancel")
    resting = api.wait_state(task["id"], rest, timeout_s=60)
    attempt = int(resting["attempt"])
    events = api.ok("GET", f"/api/tasks/{task['id']}/events")["items"]
    logs = api.logs(task["id"])
    secret = (local_mode.data_dir / "run-token-secret").read_text().strip()
    token = run_token(secret, task["id"], attempt)

    for report in REPORTS:
        late = requests.post(f"{local_mode.url}/api/internal/tasks/{task['id']}/events",
                             json={"attempt": attempt, **report}, timeout=30,
                             headers={"Authorization": f"Bearer {token}"})
        assert late.status_code == 409, (report, late.text)
        assert late.json()["state"] == rest

    after = api.task(task["id"])
    assert (after["state"], after["version"], after["costUsd"]) == (rest, resting["version"], resting["costUsd"])
    assert api.ok("GET", f"/api/tasks/{task['id']}/events")["items"] == events
    assert api.logs(task["id"]) == logs
