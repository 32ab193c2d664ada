"""A polling dashboard downloads a list again only when it changed: GET answers carry an ETag and
are 304 without a body when If-None-Match names it (issue 18.7)."""
from __future__ import annotations

from typing import Any

from tests.support.api import Api


def test_an_unchanged_task_list_is_304_and_a_changed_one_is_sent_again(api: Api, repo: dict[str, Any]) -> None:
    path = f"/api/tasks?type=repo-task&repoId={repo['id']}"
    first = api.get(path)
    tag = first.headers["ETag"]
    assert first.status_code == 200 and first.json()["items"] == []
    assert first.headers["Cache-Control"] == "private, no-cache"

    again = api.get(path, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == tag
    # A compressing proxy marks the tag weak; a list of tags may name it among others.
    assert api.get(path, headers={"If-None-Match": f'"other", W/{tag}'}).status_code == 304

    task = api.ok("POST", "/api/tasks", {"title": "Etag", "prompt": "[fake:noop] p", "repoId": repo["id"]},
                  status=201)
    changed = api.get(path, headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag
    assert [item["id"] for item in changed.json()["items"]] == [task["id"]]

