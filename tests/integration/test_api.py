"""The API over HTTP against the local stack: auth, validation, repos, tasks, paging."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.support.api import Api
from tests.support.localmode import LocalMode

pytestmark = pytest.mark.xdist_group("stack")


def test_health_is_public_and_reports_the_store(anonymous: Api) -> None:
    body = anonymous.ok("GET", "/api/health")
    assert body["healthy"] is True
    assert body["checks"] == {"store": "ok", "launcher": "local"}


def test_routes_need_a_token(anonymous: Api) -> None:
    response = anonymous.get("/api/tasks")
    assert response.status_code == 401
    assert "error" in response.json()


def test_wrong_token_is_refused(stack: LocalMode) -> None:
    response = Api(stack.url, "optio_pat_wrong").get("/api/tasks")
    assert response.status_code == 401


def test_token_by_cookie_and_by_query(anonymous: Api, stack: LocalMode) -> None:
    by_cookie = anonymous.get("/api/tasks", headers={"Cookie": f"optio_session={stack.token}"})
    by_query = anonymous.get(f"/api/tasks?token={stack.token}")
    assert by_cookie.status_code == 200 and by_query.status_code == 200


def test_api_keys_are_shown_once_and_revocable(api: Api, stack: LocalMode) -> None:
    created = api.ok("POST", "/api/auth/api-keys", {"name": "ci"}, status=201)
    assert created["token"].startswith("optio_pat_")
    holder = Api(stack.url, created["token"])
    assert holder.get("/api/tasks").status_code == 200
    listed = api.ok("GET", "/api/auth/api-keys")["items"]
    assert any(k["id"] == created["id"] for k in listed)
    assert all("token" not in k for k in listed)
    assert api.request("DELETE", f"/api/auth/api-keys/{created['id']}").status_code == 204
    assert holder.get("/api/tasks").status_code == 401


def test_repo_urls_are_normalised_and_unique(api: Api) -> None:
    name = f"acme/web-{uuid.uuid4().hex[:6]}"
    first = api.ok("POST", "/api/repos", {"repoUrl": f"https://GitHub.com/{name}.git"}, status=201)
    assert first["repoUrl"] == f"https://github.com/{name}".lower()
    assert first["defaultBranch"] == "main" and first["maxConcurrentTasks"] == 2
    again = api.post("/api/repos", {"repoUrl": f"https://github.com/{name}/"})
    assert again.status_code == 409 and again.json()["existingId"] == first["id"]
    assert api.ok("GET", f"/api/repos/{first['id']}")["id"] == first["id"]


@pytest.mark.parametrize("body,field", [
    ({"prompt": "p", "repoUrl": "https://github.com/a/b"}, "title"),
    ({"title": "t", "repoUrl": "https://github.com/a/b"}, "prompt"),
    ({"title": "t", "prompt": "p"}, "repoId"),
    ({"title": "t", "prompt": "p", "repoUrl": "https://github.com/a/b", "priority": -1}, "priority"),
    ({"title": "t", "prompt": "p", "repoUrl": "https://github.com/a/b", "agentType": "x"}, "agentType"),
    ({"title": "t", "prompt": "p", "repoUrl": "nope"}, "repoUrl"),
    ({"title": "t", "prompt": "p", "repoId": str(uuid.uuid4())}, "repoId"),
    ({"title": 5, "prompt": "p", "repoUrl": "https://github.com/a/b"}, "title"),
])
def test_bad_task_input_names_the_field(api: Api, body: dict[str, object], field: str) -> None:
    response = api.post("/api/tasks", body)
    assert response.status_code == 400, response.text
    assert field in [d["field"] for d in response.json()["details"]]


def test_bad_json_and_oversized_bodies(api: Api) -> None:
    bad = api.post("/api/tasks", data="{not json", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json()["details"][0]["field"] == "body"
    big = api.post("/api/tasks", data="x" * (1024 * 1024 + 1),
                   headers={"Content-Type": "application/json"})
    assert big.status_code == 413


def test_unknown_task_is_404(api: Api) -> None:
    response = api.get(f"/api/tasks/{uuid.uuid4()}")
    assert response.status_code == 404 and "not found" in response.json()["error"]


def test_creating_a_task_with_a_repo_url_registers_the_repo(api: Api, bare_repo: Path) -> None:
    task = api.ok("POST", "/api/tasks", {
        "title": "Say hello", "prompt": "[fake:noop] hello", "repoUrl": f"file://{bare_repo}",
        "agentType": "claude", "maxRetries": 0,
    }, status=201)
    assert task["agentType"] == "claude-code"
    assert task["branchName"] == f"optio/say-hello-{task['id'][:8]}"
    assert task["repoUrl"] == f"file://{bare_repo}"
    api.wait_state(task["id"], "needs_attention")


def test_list_filters_and_pages(api: Api, repo: dict[str, object]) -> None:
    ids = [
        api.ok("POST", "/api/tasks", {"title": f"t{i}", "prompt": "[fake:noop]",
                                     "repoId": repo["id"], "maxRetries": 0}, status=201)["id"]
        for i in range(3)
    ]
    seen: list[str] = []
    cursor = ""
    for _ in range(5):
        page = api.ok("GET", f"/api/tasks?repoId={repo['id']}&limit=2" + (f"&cursor={cursor}" if cursor else ""))
        seen.extend(t["id"] for t in page["items"])
        if not page["nextCursor"]:
            break
        cursor = page["nextCursor"]
    assert sorted(seen) == sorted(ids)
    assert api.get("/api/tasks?limit=0").status_code == 400
    assert api.get("/api/tasks?state=bogus").status_code == 400
    assert api.get("/api/tasks?cursor=garbage").status_code == 400


def test_cancel_and_retry_answer_409_with_the_state_when_not_allowed(api: Api, repo: dict[str, object]) -> None:
    task = api.ok("POST", "/api/tasks", {"title": "noop", "prompt": "[fake:noop]",
                                         "repoId": repo["id"], "maxRetries": 0}, status=201)
    api.wait_state(task["id"], "needs_attention")
    retry = api.post(f"/api/tasks/{task['id']}/retry")
    assert retry.status_code == 409 and retry.json()["state"] == "needs_attention"


def test_runner_channel_refuses_bad_tokens(anonymous: Api, repo: dict[str, object], api: Api) -> None:
    task = api.ok("POST", "/api/tasks", {"title": "noop", "prompt": "[fake:noop]",
                                         "repoId": repo["id"], "maxRetries": 0}, status=201)
    response = anonymous.post(f"/api/internal/tasks/{task['id']}/events",
                              {"attempt": 1, "kind": "heartbeat"},
                              headers={"Authorization": "Bearer optio_run_1_forged"})
    assert response.status_code == 401


def test_reports_from_a_superseded_attempt_are_refused(api: Api, anonymous: Api, stack: LocalMode,
                                                       repo: dict[str, object]) -> None:
    from chalicelib.core.tokens import run_token

    task = api.ok("POST", "/api/tasks", {"title": "done", "prompt": "write",
                                         "repoId": repo["id"]}, status=201)
    done = api.wait_state(task["id"], "completed")
    secret = (stack.data_dir / "run-token-secret").read_text().strip()
    late = anonymous.post(f"/api/internal/tasks/{task['id']}/events",
                          {"attempt": 1, "kind": "result", "result": "failure", "error": "late"},
                          headers={"Authorization": f"Bearer {run_token(secret, task['id'], 1)}"})
    assert late.status_code == 409 and late.json()["state"] == "completed"
    wrong_attempt = anonymous.post(f"/api/internal/tasks/{task['id']}/events",
                                   {"attempt": 2, "kind": "heartbeat"},
                                   headers={"Authorization": f"Bearer {run_token(secret, task['id'], 1)}"})
    assert wrong_attempt.status_code == 401
    assert api.task(task["id"])["version"] == done["version"]
