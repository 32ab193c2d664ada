"""`GET /api/tasks` for a list in daily use: sorted by created, priority or cost in either order,
searched over title and repository, composed with the filters, and paged by cursor without a
repeat or a gap while tasks are created between pages."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib.api.shapes import SUMMARY_FIELDS
from tests.support.api import Api


def pages(api: Api, params: dict[str, str], between: Iterator[None] | None = None) -> list[dict[str, Any]]:
    """Every page of a listing; `between` runs a step after each page."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        page = api.ok("GET", "/api/tasks?" + urlencode({**params, **({"cursor": cursor} if cursor else {})}))
        items.extend(page["items"])
        cursor = page["nextCursor"]
        if not cursor:
            return items
        if between is not None:
            next(between, None)
    raise AssertionError("more than 100 pages")


@pytest.fixture()
def blocker(api: Api, repo: dict[str, Any]) -> Iterator[str]:
    """A task that holds on, so that the tasks depending on it wait and no agent runs for them."""
    task = api.ok("POST", "/api/tasks", {"title": "Blocker", "prompt": "[fake:sleep=300] hold", "repoId": repo["id"]},
                  status=201)
    yield task["id"]
    api.post(f"/api/tasks/{task['id']}/cancel")


def waiting(api: Api, repo: dict[str, Any], blocker: str, title: str, priority: int = 0) -> dict[str, Any]:
    """A task that stays as it is: waiting on the blocker."""
    task = api.ok("POST", "/api/tasks", {"title": title, "prompt": "[fake:noop] x", "repoId": repo["id"],
                                         "priority": priority, "dependsOn": [blocker]}, status=201)
    return api.wait_state(task["id"], "waiting_on_deps")


def test_priority_pages_repeat_and_skip_nothing_while_tasks_are_created(api: Api, repo: dict[str, Any],
                                                                       blocker: str) -> None:
    tasks = [waiting(api, repo, blocker, f"Task {n}", priority=n % 4) for n in range(17)]

    def inserts() -> Iterator[None]:
        for n in range(4):
            waiting(api, repo, blocker, f"Inserted {n}", priority=(0, 3)[n % 2])
            yield

    listed = pages(api, {"type": "repo-task", "repoId": repo["id"], "sort": "priority", "limit": "4"}, inserts())
    ids = [t["id"] for t in listed]
    assert len(ids) == len(set(ids))
    assert {t["id"] for t in tasks} <= set(ids)
    keys = [(t["priority"], t["createdAt"], t["id"]) for t in listed]
    assert keys == sorted(keys)
    descending = pages(api, {"type": "repo-task", "repoId": repo["id"], "sort": "priority", "order": "desc", "limit": "5"})
    assert [(t["priority"], t["createdAt"], t["id"]) for t in descending] == sorted(
        ((t["priority"], t["createdAt"], t["id"]) for t in descending), reverse=True)


def test_search_over_title_and_repository_in_either_creation_order(api: Api, repo: dict[str, Any],
                                                                   blocker: str) -> None:
    titles = ["Fix the LOGIN page", "Tidy docs", "login: remember me", "Bump deps", "Relogin after expiry"]
    for title in titles:
        waiting(api, repo, blocker, title)
    base = {"type": "repo-task", "repoId": repo["id"], "limit": "2"}
    newest = pages(api, {**base, "q": "LogIn"})
    assert [t["title"] for t in newest] == ["Relogin after expiry", "login: remember me", "Fix the LOGIN page"]
    oldest = pages(api, {**base, "q": "login", "order": "asc"})
    assert [t["title"] for t in oldest] == ["Fix the LOGIN page", "login: remember me", "Relogin after expiry"]
    # The repository's address matches every one of its tasks; with a state filter, those in it.
    path = str(repo["repoUrl"]).rsplit("/", 1)[-1].upper()
    assert len(pages(api, {**base, "q": path})) == len(titles) + 1
    assert len(pages(api, {**base, "q": path, "state": "waiting_on_deps"})) == len(titles)
    assert pages(api, {**base, "q": "no such words"}) == []


def test_sorted_by_cost_most_expensive_first(api: Api, repo: dict[str, Any]) -> None:
    for title, cost in (("Cheap", "0.05"), ("Dear", "2.5"), ("Middling", "0.7")):
        task = api.ok("POST", "/api/tasks", {"title": title, "prompt": f"[fake:cost={cost}] x", "repoId": repo["id"]},
                      status=201)
        api.wait_state(task["id"], {"completed", "needs_attention", "pr_opened"})
    listed = pages(api, {"type": "repo-task", "repoId": repo["id"], "sort": "cost", "limit": "1"})
    assert [t["title"] for t in listed] == ["Dear", "Middling", "Cheap"]
    cheapest = pages(api, {"type": "repo-task", "repoId": repo["id"], "sort": "cost", "order": "asc", "limit": "2"})
    assert [t["title"] for t in cheapest] == ["Cheap", "Middling", "Dear"]


@pytest.mark.parametrize(("query", "field"), [
    ("sort=title", "sort"), ("sort=cost&order=up", "order"), (f"q={'x' * 201}", "q"),
    ("type=all&sort=cost", "sort"), ("type=repo-blueprint&order=asc", "sort"), ("view=compact", "view"),
])
def test_bad_list_parameters_name_their_field(api: Api, query: str, field: str) -> None:
    answer = api.get(f"/api/tasks?{query}")
    assert answer.status_code == 400, answer.text
    assert [d["field"] for d in answer.json()["details"]] == [field]


def test_a_cursor_of_one_sort_is_refused_by_another(api: Api, repo: dict[str, Any], blocker: str) -> None:
    waiting(api, repo, blocker, "One")
    cursor = api.ok("GET", f"/api/tasks?type=repo-task&repoId={repo['id']}&sort=priority&limit=1")["nextCursor"]
    for other in ("sort=cost", "sort=priority&order=desc", "sort=created"):
        answer = api.get(f"/api/tasks?type=repo-task&repoId={repo['id']}&{other}&limit=1&cursor={cursor}")
        assert answer.status_code == 400 and answer.json()["details"][0]["field"] == "cursor", answer.text


def test_a_sorted_search_is_answered_conditionally(api: Api, repo: dict[str, Any], blocker: str) -> None:
    waiting(api, repo, blocker, "Conditional one")
    path = f"/api/tasks?type=repo-task&repoId={repo['id']}&sort=cost&q=conditional"
    tag = api.get(path).headers["ETag"]
    assert api.get(path, headers={"If-None-Match": tag}).status_code == 304
    waiting(api, repo, blocker, "Conditional two")
    assert api.get(path, headers={"If-None-Match": tag}).status_code == 200


def test_a_summary_holds_what_a_row_shows_and_no_prompt(api: Api, repo: dict[str, Any], blocker: str) -> None:
    task = waiting(api, repo, blocker, "Summarised")
    path = f"/api/tasks?type=repo-task&repoId={repo['id']}&q=summarised"
    [full] = api.ok("GET", path)["items"]
    [summary] = api.ok("GET", f"{path}&view=summary")["items"]
    assert summary == {name: full[name] for name in SUMMARY_FIELDS}
    assert summary["id"] == task["id"] and "prompt" not in summary and full["prompt"]
