"""Fault: `POST /api/tasks/bulk/cancel-active` right after creating tasks, while they are still
`pending`. Every one of them is cancelled and no agent runs for any."""
from __future__ import annotations

import pytest

from tests.support.localmode import LocalMode

pytestmark = pytest.mark.xdist_group("faults-bulk-cancel")


def test_bulk_cancel_right_after_create(local_mode: LocalMode, repo_id: str) -> None:
    api = local_mode.api
    created = [api.ok("POST", "/api/tasks", {"title": f"Doomed {i}", "prompt": "[fake:sleep=30]",
                                              "repoId": repo_id}, status=201)["id"]
               for i in range(3)]
    answer = api.ok("POST", "/api/tasks/bulk/cancel-active")
    assert answer == {"affected": 3, "total": 3}
    for task_id in created:
        assert api.wait_state(task_id, "cancelled", timeout_s=60)["state"] == "cancelled"
        # Nothing later brought it back.
        assert [e["to"] for e in api.ok("GET", f"/api/tasks/{task_id}/events")["items"]][-1] == "cancelled"
