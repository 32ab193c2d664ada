"""Blueprints (`type: repo-blueprint`) over HTTP: CRUD through `/api/tasks` and its
`/api/task-configs` aliases, listing by type, and runs rendered from params (SPEC §2, §4, §7)."""
from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.api import Api

pytestmark = pytest.mark.xdist_group("stack")

SCHEMA = {
    "type": "object", "required": ["pkg"], "additionalProperties": False,
    "properties": {"pkg": {"type": "string", "minLength": 1},
                   "severity": {"type": "string", "enum": ["low", "high"], "default": "high"}},
}


def fields(response: Any) -> list[str]:
    assert response.status_code == 400, response.text
    return [d["field"] for d in response.json()["details"]]


@pytest.fixture()
def blueprint(api: Api, repo: dict[str, Any]) -> dict[str, Any]:
    return api.ok("POST", "/api/tasks", {  # type: ignore[no-any-return]
        "type": "repo-blueprint", "name": f"cve-{uuid.uuid4().hex[:8]}", "title": "Patch {{pkg}}",
        "prompt": "[fake:noop] patch {{pkg}}{{#if severity}} ({{severity}}){{/if}}",
        "repoId": repo["id"], "agentType": "claude", "priority": 4, "maxRetries": 1, "paramsSchema": SCHEMA,
    }, status=201)


def test_blueprint_crud_resolves_by_id(api: Api, blueprint: dict[str, Any], repo: dict[str, Any]) -> None:
    assert blueprint["type"] == "repo-blueprint" and blueprint["enabled"] is True
    assert blueprint["agentType"] == "claude-code" and blueprint["repoId"] == repo["id"]
    assert blueprint["promptTemplateId"] is None and blueprint["paramsSchema"] == SCHEMA
    path = f"/api/tasks/{blueprint['id']}"
    assert api.ok("GET", path) == blueprint
    assert api.ok("GET", f"/api/task-configs/{blueprint['id']}") == blueprint

    patched = api.ok("PATCH", path, {"priority": 9, "enabled": False, "title": None})
    assert patched["priority"] == 9 and patched["enabled"] is False and patched["title"] is None
    assert api.ok("GET", path) == patched
    assert "priority" in fields(api.request("PATCH", path, json={"priority": -1}))
    assert "prompt" in fields(api.request("PATCH", path, json={"prompt": None}))
    assert "state" in fields(api.request("PATCH", path, json={"state": "queued"}))

    assert api.request("DELETE", f"/api/task-configs/{blueprint['id']}").status_code == 204
    assert api.get(path).status_code == 404
    assert api.request("DELETE", path).status_code == 404


def test_listing_by_type(api: Api, blueprint: dict[str, Any], repo: dict[str, Any]) -> None:
    task = api.ok("POST", "/api/tasks", {"title": "t", "prompt": "[fake:noop]", "repoId": repo["id"]}, status=201)

    def ids(query: str) -> set[str]:
        seen: set[str] = set()
        page = api.ok("GET", f"/api/tasks?{query}&limit=200")
        while True:
            seen |= {item["id"] for item in page["items"]}
            if not page["nextCursor"]:
                return seen
            page = api.ok("GET", f"/api/tasks?{query}&limit=200&cursor={page['nextCursor']}")

    blueprints = ids("type=repo-blueprint")
    assert blueprint["id"] in blueprints and task["id"] not in blueprints
    assert {blueprint["id"], task["id"]} <= ids("type=all")
    assert task["id"] in ids("type=repo-task") and blueprint["id"] not in ids("type=repo-task")
    assert blueprint["id"] in ids(f"type=repo-blueprint&repoId={repo['id']}")
    assert blueprint["id"] not in ids(f"type=repo-blueprint&repoId={uuid.uuid4()}")
    # Other tests of the session may have made standalone tasks: none of these is one.
    assert not {blueprint["id"], task["id"]} & ids("type=standalone")
    configs = api.ok("GET", "/api/task-configs?limit=200")
    assert blueprint["id"] in {c["id"] for c in configs["items"]}


@pytest.mark.parametrize("body,field", [
    ({"name": "n", "repoUrl": "x"}, "prompt"),
    ({"name": "n", "prompt": "p"}, "repoId"),
    ({"prompt": "p", "repoUrl": "x"}, "name"),
    ({"name": "n", "prompt": "p", "repoId": str(uuid.uuid4())}, "repoId"),
    ({"name": "n", "prompt": "p", "repoUrl": "x", "paramsSchema": {"type": "thing"}}, "paramsSchema"),
    ({"name": "n", "promptTemplateId": str(uuid.uuid4()), "repoUrl": "x"}, "promptTemplateId"),
    ({"name": "n", "prompt": "p", "repoUrl": "x", "state": "queued"}, "state"),
])
def test_bad_blueprints_name_the_field(api: Api, body: dict[str, Any], field: str, repo: dict[str, Any]) -> None:
    body = {"type": "repo-blueprint", **body}
    if body.get("repoUrl") == "x":
        body["repoUrl"] = repo["repoUrl"]
    response = api.post("/api/tasks", body)
    assert response.status_code == 400, response.text
    assert field in response.text


def test_run_renders_and_creates_a_repo_task(api: Api, blueprint: dict[str, Any], repo: dict[str, Any]) -> None:
    runs = f"/api/tasks/{blueprint['id']}/runs"
    first = api.ok("POST", runs, {"params": {"pkg": "openssl"}}, status=202)
    assert first["type"] == "repo-task"
    task = api.task(first["runId"])
    assert task["type"] == "repo-task" and task["title"] == "Patch openssl"
    assert task["prompt"] == "[fake:noop] patch openssl (high)"
    assert task["repoId"] == repo["id"] and task["priority"] == 4 and task["maxRetries"] == 1
    assert task["metadata"]["taskConfigId"] == blueprint["id"]
    assert task["metadata"]["triggerParams"] == {"pkg": "openssl", "severity": "high"}
    second = api.ok("POST", f"/api/task-configs/{blueprint['id']}/runs", {"params": {"pkg": "zlib", "severity": "low"}},
                    status=202)
    assert api.task(second["runId"])["prompt"] == "[fake:noop] patch zlib (low)"

    listed = api.ok("GET", runs)
    assert [t["id"] for t in listed["items"]] == [second["runId"], first["runId"]]
    assert api.ok("GET", f"{runs}?limit=1")["nextCursor"]
    assert api.ok("GET", f"{runs}/{first['runId']}")["id"] == first["runId"]
    assert api.get(f"{runs}/{uuid.uuid4()}").status_code == 404
    other = api.ok("POST", "/api/tasks", {"title": "t", "prompt": "[fake:noop]", "repoId": repo["id"]}, status=201)
    assert api.get(f"{runs}/{other['id']}").status_code == 404


def test_run_params_violating_the_schema_are_400(api: Api, blueprint: dict[str, Any]) -> None:
    runs = f"/api/tasks/{blueprint['id']}/runs"
    assert sorted(fields(api.post(runs, {"params": {"severity": "mid", "x": 1}}))) == [
        "params.pkg", "params.severity", "params.x"]
    assert "params" in fields(api.post(runs, {"params": "pkg=x"}))
    assert "other" in fields(api.post(runs, {"other": 1}))
    assert api.ok("GET", runs)["items"] == []


def test_a_disabled_blueprint_does_not_run(api: Api, blueprint: dict[str, Any]) -> None:
    api.ok("PATCH", f"/api/tasks/{blueprint['id']}", {"enabled": False})
    response = api.post(f"/api/tasks/{blueprint['id']}/runs", {"params": {"pkg": "x"}})
    assert response.status_code == 400 and "disabled" in response.json()["error"]
    api.ok("PATCH", f"/api/tasks/{blueprint['id']}", {"enabled": True})
    api.ok("POST", f"/api/tasks/{blueprint['id']}/runs", {"params": {"pkg": "x"}}, status=202)


def test_a_linked_template_gives_prompt_and_schema(api: Api, repo: dict[str, Any]) -> None:
    template = api.ok("POST", "/api/templates", {
        "name": f"tpl-{uuid.uuid4().hex[:8]}", "prompt": "[fake:noop] from template {{what}}",
        "paramsSchema": {"type": "object", "properties": {"what": {"type": "string", "default": "w"}}},
    }, status=201)
    config = api.ok("POST", "/api/task-configs", {"name": "linked", "repoId": repo["id"],
                                                  "promptTemplateId": template["id"]}, status=201)
    assert config["type"] == "repo-blueprint"
    run = api.ok("POST", f"/api/tasks/{config['id']}/runs", {}, status=202)
    task = api.task(run["runId"])
    assert task["prompt"] == "[fake:noop] from template w" and task["title"] == "linked"


def test_runs_are_405_for_a_repo_task_and_404_for_nothing(api: Api, repo: dict[str, Any]) -> None:
    task = api.ok("POST", "/api/tasks", {"title": "t", "prompt": "[fake:noop]", "repoId": repo["id"]}, status=201)
    assert api.get(f"/api/tasks/{task['id']}/runs").status_code == 405
    assert api.post(f"/api/tasks/{task['id']}/runs", {}).status_code == 405
    assert api.get(f"/api/tasks/{uuid.uuid4()}/runs").status_code == 404
    assert api.post(f"/api/task-configs/{uuid.uuid4()}/runs", {}).status_code == 404
