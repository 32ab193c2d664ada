"""A small HTTP client for the API under test."""
from __future__ import annotations

from typing import Any

import requests

from .waiting import wait_for

TERMINALISH = {"completed", "failed", "cancelled", "needs_attention", "pr_opened"}


class Api:
    def __init__(self, base_url: str, token: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, json=json, **kwargs)

    def ok(self, method: str, path: str, json: Any = None, status: int = 200) -> Any:
        response = self.request(method, path, json=json)
        assert response.status_code == status, (response.status_code, response.text)
        return response.json() if response.content else None

    def task(self, task_id: str) -> dict[str, Any]:
        return self.ok("GET", f"/api/tasks/{task_id}")  # type: ignore[no-any-return]

    def wait_state(self, task_id: str, states: set[str] | str, timeout_s: float = 90) -> dict[str, Any]:
        wanted = {states} if isinstance(states, str) else states

        def probe() -> dict[str, Any] | None:
            task = self.task(task_id)
            return task if task["state"] in wanted else None

        return wait_for(probe, timeout_s, what=f"task {task_id} in {sorted(wanted)}")

    def logs(self, task_id: str) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = []
        after = 0
        while True:
            page = self.ok("GET", f"/api/tasks/{task_id}/logs?after={after}&limit=200")
            lines.extend(page["items"])
            if not page["nextCursor"]:
                return lines
            after = int(page["nextCursor"])
