"""Who did what, over HTTP: tasks, blueprints and runs record who created them, every event who
caused it (a caller, a trigger, or the engine: `system`), comments their author; the task list
filters by creator."""
from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.integration.test_roles import user_with_key
from tests.support.api import Api
from tests.support.localmode import LocalMode

pytestmark = pytest.mark.xdist_group("stack")


def principal_of(caller: Api) -> str:
    return str(caller.ok("GET", "/api/auth/me")["principal"])


def mine(caller: Api, query: str) -> list[str]:
    """Every id the filtered list holds, page after page (a filter may leave pages short)."""
    ids: list[str] = []
    cursor = ""
    while True:
        page = caller.ok("GET", f"/api/tasks?{query}&limit=200" + (f"&cursor={cursor}" if cursor else ""))
        ids += [item["id"] for item in page["items"]]
        if not page["nextCursor"]:
            return ids
        cursor = page["nextCursor"]


def test_a_task_records_its_creator_and_each_event_its_actor(api: Api, stack: LocalMode,
                                                             repo: dict[str, Any]) -> None:
    _, member = user_with_key(api, stack, "member")
    _, viewer = user_with_key(api, stack, "viewer")
    task = member.ok("POST", "/api/tasks", {"title": "Slow", "prompt": "[fake:sleep=30] slow", "repoId": repo["id"]},
                     status=201)
    creator = principal_of(member)
    assert task["createdBy"] == creator and creator.startswith("apikey:")
    member.wait_state(task["id"], "running")
    assert viewer.post(f"/api/tasks/{task['id']}/cancel").status_code == 403
    api.ok("POST", f"/api/tasks/{task['id']}/cancel")
    api.wait_state(task["id"], "cancelled")

    def events() -> list[dict[str, Any]]:
        return api.ok("GET", f"/api/tasks/{task['id']}/events")["items"]  # type: ignore[no-any-return]

    found = events()
    assert (found[0]["to"], found[0]["actor"]) == ("pending", creator)
    # The engine moved it on; the administrator (the admin token) cancelled it.
    assert {e["actor"] for e in found if e["to"] == "running"} == {"system"}
    assert "admin" in {e["actor"] for e in found if e["to"] in ("cancelling", "cancelled")}
    assert all(e["actor"] for e in found)
    # "My tasks": the member's list has it, the administrator's does not.
    assert task["id"] in mine(member, "type=repo-task&createdBy=me")
    assert task["id"] not in mine(api, "type=repo-task&createdBy=me")
    assert task["id"] in mine(viewer, f"type=all&createdBy={creator}")


def test_my_tasks_are_a_persons_whichever_key_made_them(api: Api, stack: LocalMode, repo: dict[str, Any]) -> None:
    """One person with two API keys: a task made through either is theirs ("my tasks" through the
    other), and not someone else's with the same role."""
    _, first = user_with_key(api, stack, "member")
    made = first.ok("POST", "/api/auth/api-keys", {"name": "second key"}, status=201)
    second = Api(stack.url, made["token"])
    _, stranger = user_with_key(api, stack, "member")
    task = first.ok("POST", "/api/tasks", {"title": "Mine", "prompt": "[fake:noop] mine", "repoId": repo["id"]},
                    status=201)
    assert principal_of(second) != task["createdBy"]
    assert task["id"] in mine(second, "type=repo-task&createdBy=me")
    assert task["id"] in mine(second, "type=all&createdBy=me")
    assert task["id"] not in mine(stranger, "type=repo-task&createdBy=me")
    # An exact principal still means that one only.
    assert task["id"] not in mine(api, f"type=repo-task&createdBy={principal_of(second)}")


def test_comments_blueprints_and_triggered_runs_record_who(api: Api, anonymous: Api, stack: LocalMode,
                                                           repo: dict[str, Any]) -> None:
    _, member = user_with_key(api, stack, "member")
    creator = principal_of(member)
    blueprint = member.ok("POST", "/api/tasks", {
        "type": "repo-blueprint", "name": f"bp-{uuid.uuid4().hex[:8]}", "title": "Fix {{issue}}",
        "prompt": "[fake:noop] fix {{issue}}", "repoId": repo["id"]}, status=201)
    assert blueprint["createdBy"] == creator
    assert blueprint["id"] in mine(member, "type=repo-blueprint&createdBy=me")
    path = f"who-{uuid.uuid4().hex[:8]}"
    trigger = member.ok("POST", f"/api/tasks/{blueprint['id']}/triggers",
                        {"type": "webhook", "config": {"path": path}}, status=201)
    fired = anonymous.post(f"/api/hooks/{path}", {"issue": "#1"})
    assert fired.status_code == 202, fired.text
    run = api.task(fired.json()["runId"])
    assert run["createdBy"] == f"trigger:{trigger['id']}"
    first = api.ok("GET", f"/api/tasks/{run['id']}/events")["items"][0]
    assert first["actor"] == f"trigger:{trigger['id']}"
    by_hand = member.ok("POST", f"/api/tasks/{blueprint['id']}/runs", {"params": {"issue": "#2"}}, status=202)
    assert api.task(by_hand["runId"])["createdBy"] == creator
    comment = member.ok("POST", f"/api/tasks/{run['id']}/comments", {"body": "on it"}, status=201)
    assert comment["author"] == creator
