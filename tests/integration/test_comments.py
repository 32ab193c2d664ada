"""Comments on tasks over HTTP: anyone comments, only the author edits or deletes."""
from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.api import Api
from tests.support.localmode import LocalMode

pytestmark = pytest.mark.xdist_group("stack")


@pytest.fixture()
def task(api: Api, repo: dict[str, Any]) -> dict[str, Any]:
    return api.ok("POST", "/api/tasks", {"title": "talk about it", "prompt": "[fake:noop]",  # type: ignore[no-any-return]
                                         "repoId": repo["id"], "maxRetries": 0}, status=201)


@pytest.fixture()
def other(api: Api, stack: LocalMode) -> Api:
    """Somebody else: the holder of a fresh API key."""
    key = api.ok("POST", "/api/auth/api-keys", {"name": "someone else"}, status=201)
    return Api(stack.url, key["token"])


def test_comment_crud(api: Api, task: dict[str, Any]) -> None:
    path = f"/api/tasks/{task['id']}/comments"
    comment = api.ok("POST", path, {"body": "Looks good"}, status=201)
    assert comment["taskId"] == task["id"] and comment["author"] == "admin"
    assert comment["body"] == "Looks good" and comment["createdAt"] == comment["updatedAt"]
    uuid.UUID(comment["id"], version=4)

    edited = api.ok("PATCH", f"{path}/{comment['id']}", {"body": "Looks great"})
    assert edited["body"] == "Looks great" and edited["id"] == comment["id"]
    assert edited["createdAt"] == comment["createdAt"] and edited["updatedAt"] >= comment["updatedAt"]
    assert api.ok("GET", path) == {"items": [edited], "nextCursor": None}

    assert api.request("DELETE", f"{path}/{comment['id']}").status_code == 204
    assert api.ok("GET", path)["items"] == []
    assert api.request("DELETE", f"{path}/{comment['id']}").status_code == 404


def test_comments_list_oldest_first_in_pages(api: Api, task: dict[str, Any]) -> None:
    path = f"/api/tasks/{task['id']}/comments"
    written = [api.ok("POST", path, {"body": f"note {i}"}, status=201)["id"] for i in range(5)]
    seen: list[str] = []
    page = api.ok("GET", f"{path}?limit=2")
    while True:
        assert len(page["items"]) <= 2
        seen.extend(c["id"] for c in page["items"])
        if not page["nextCursor"]:
            break
        page = api.ok("GET", f"{path}?limit=2&cursor={page['nextCursor']}")
    assert seen == written
    assert api.get(f"{path}?limit=201").status_code == 400
    assert api.get(f"{path}?cursor=garbage").status_code == 400


def test_only_the_author_edits_or_deletes(api: Api, other: Api, task: dict[str, Any]) -> None:
    path = f"/api/tasks/{task['id']}/comments"
    mine = api.ok("POST", path, {"body": "by admin"}, status=201)
    theirs = other.ok("POST", path, {"body": "by a key"}, status=201)
    assert theirs["author"].startswith("apikey:")

    for caller, comment in ((other, mine), (api, theirs)):
        edit = caller.request("PATCH", f"{path}/{comment['id']}", json={"body": "hijacked"})
        delete = caller.request("DELETE", f"{path}/{comment['id']}")
        assert edit.status_code == 403 and delete.status_code == 403
        assert "author" in edit.json()["error"] and "error" in delete.json()

    assert other.ok("PATCH", f"{path}/{theirs['id']}", {"body": "edited by its author"})["body"] == (
        "edited by its author")
    assert [c["body"] for c in api.ok("GET", path)["items"]] == ["by admin", "edited by its author"]


def key_of(api: Api, stack: LocalMode, user_id: str) -> Api:
    key = api.ok("POST", "/api/auth/api-keys", {"userId": user_id, "name": "a laptop"}, status=201)
    return Api(stack.url, key["token"])


def test_the_author_is_the_user_not_the_key(api: Api, stack: LocalMode, task: dict[str, Any]) -> None:
    """A user's keys (and sign-in sessions) all speak for that user: a comment written with one is
    edited and deleted with another; another user's key still may not."""
    grace, lin = (api.ok("POST", "/api/users", {"email": f"{who}-{uuid.uuid4().hex[:8]}@example.com",
                                               "role": "member"}, status=201) for who in ("grace", "lin"))
    laptop, ci, lins = key_of(api, stack, grace["id"]), key_of(api, stack, grace["id"]), key_of(api, stack, lin["id"])
    path = f"/api/tasks/{task['id']}/comments"
    written = laptop.ok("POST", path, {"body": "from the laptop"}, status=201)
    assert written["author"].startswith("apikey:")

    refused = lins.request("PATCH", f"{path}/{written['id']}", json={"body": "hijacked"})
    assert refused.status_code == 403 and "author" in refused.json()["error"]
    assert ci.ok("PATCH", f"{path}/{written['id']}", {"body": "from CI"})["body"] == "from CI"
    assert lins.request("DELETE", f"{path}/{written['id']}").status_code == 403
    assert ci.request("DELETE", f"{path}/{written['id']}").status_code == 204


def test_unknown_task_or_comment_is_404(api: Api, task: dict[str, Any], repo: dict[str, Any]) -> None:
    nowhere = f"/api/tasks/{uuid.uuid4()}/comments"
    assert api.post(nowhere, {"body": "hi"}).status_code == 404
    assert api.get(nowhere).status_code == 404
    path = f"/api/tasks/{task['id']}/comments"
    missing = f"{path}/{uuid.uuid4()}"
    response = api.request("PATCH", missing, json={"body": "x"})
    assert response.status_code == 404 and "not found" in response.json()["error"]
    assert api.request("DELETE", missing).status_code == 404
    # A comment is found only under its own task.
    comment = api.ok("POST", path, {"body": "here"}, status=201)
    elsewhere = api.ok("POST", "/api/tasks", {"title": "other", "prompt": "[fake:noop]",
                                              "repoId": repo["id"], "maxRetries": 0}, status=201)
    assert api.request("DELETE", f"/api/tasks/{elsewhere['id']}/comments/{comment['id']}").status_code == 404


@pytest.mark.parametrize("body,field", [
    ({}, "body"),
    ({"body": ""}, "body"),
    ({"body": 5}, "body"),
    ({"body": "x" * 20001}, "body"),
    ({"body": "ok", "author": "me"}, "author"),
])
def test_bad_comment_input_names_the_field(api: Api, task: dict[str, Any], body: dict[str, Any],
                                           field: str) -> None:
    path = f"/api/tasks/{task['id']}/comments"
    response = api.post(path, body)
    assert response.status_code == 400, response.text
    assert field in [d["field"] for d in response.json()["details"]]
    comment = api.ok("POST", path, {"body": "x" * 20000}, status=201)
    edit = api.request("PATCH", f"{path}/{comment['id']}", json=body)
    assert edit.status_code == 400 and field in [d["field"] for d in edit.json()["details"]]
