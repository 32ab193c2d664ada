"""A long log opens at its end: `GET .../logs?order=desc&limit=` reads the newest lines first,
and `before=<seq>` (the page's nextCursor) pages back (issue 18.7)."""
from __future__ import annotations

from typing import Any

from tests.support.api import Api


def test_logs_newest_first_page_back_to_the_oldest(api: Api, repo: dict[str, Any]) -> None:
    task = api.ok("POST", "/api/tasks", {"title": "Logs", "prompt": "write", "repoId": repo["id"]},
                  status=201)
    api.wait_state(task["id"], "completed")
    oldest_first = [line["seq"] for line in api.ok("GET", f"/api/tasks/{task['id']}/logs?after=0&limit=200")["items"]]
    assert len(oldest_first) >= 2, oldest_first

    newest_first: list[int] = []
    path = f"/api/tasks/{task['id']}/logs?order=desc&limit=1"
    while path:
        page = api.ok("GET", path)
        newest_first += [line["seq"] for line in page["items"]]
        cursor = page["nextCursor"]
        path = f"/api/tasks/{task['id']}/logs?order=desc&limit=1&before={cursor}" if cursor else ""
    assert newest_first == oldest_first[::-1]


def test_a_bad_order_or_bound_is_a_400_naming_it(api: Api, repo: dict[str, Any]) -> None:
    task = api.ok("POST", "/api/tasks", {"title": "Bad", "prompt": "[fake:noop] p", "repoId": repo["id"]},
                  status=201)
    for query, field in (("order=sideways", "order"), ("order=desc&before=x", "before"), ("after=-1", "after")):
        response = api.get(f"/api/tasks/{task['id']}/logs?{query}")
        assert response.status_code == 400, response.text
        assert [d["field"] for d in response.json()["details"]] == [field]
