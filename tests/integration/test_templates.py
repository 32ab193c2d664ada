"""Task templates over HTTP: CRUD, unique names, and running one as a repo task."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import Api
from tests.support.gitrepo import make_bare_repo

pytestmark = pytest.mark.xdist_group("stack")


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def fields(response: Any) -> list[str]:
    assert response.status_code == 400, response.text
    return [d["field"] for d in response.json()["details"]]


@pytest.fixture()
def template(api: Api, repo: dict[str, Any]) -> dict[str, Any]:
    return api.ok("POST", "/api/templates", {  # type: ignore[no-any-return]
        "name": unique("bump deps"), "title": "Bump dependencies", "prompt": "[fake:noop] bump {{pkg}}",
        "repoId": repo["id"], "agentType": "claude", "priority": 7,
        "metadata": {"team": "platform"}, "paramsSchema": {"type": "object"},
    }, status=201)


def test_template_crud(api: Api, template: dict[str, Any], repo: dict[str, Any]) -> None:
    path = f"/api/templates/{template['id']}"
    assert template["repoId"] == repo["id"] and template["priority"] == 7
    assert template["metadata"] == {"team": "platform"} and template["repoUrl"] is None
    assert template["agentType"] == "claude-code"
    assert template["createdAt"] == template["updatedAt"]
    assert api.ok("GET", path) == template

    patched = api.ok("PATCH", path, {"prompt": "[fake:noop] new", "priority": 3, "metadata": None})
    assert patched["prompt"] == "[fake:noop] new" and patched["priority"] == 3
    assert patched["metadata"] is None and patched["title"] == "Bump dependencies"
    assert patched["updatedAt"] >= template["updatedAt"]
    assert api.ok("GET", path) == patched
    assert api.ok("PATCH", path, {}) == patched

    seen: list[str] = []
    page = api.ok("GET", "/api/templates?limit=1")
    while True:
        seen.extend(t["id"] for t in page["items"])
        if not page["nextCursor"]:
            break
        page = api.ok("GET", f"/api/templates?limit=1&cursor={page['nextCursor']}")
    assert template["id"] in seen

    assert api.request("DELETE", path).status_code == 204
    assert api.get(path).status_code == 404
    assert api.request("DELETE", path).status_code == 404
    assert api.request("PATCH", path, json={"priority": 1}).status_code == 404
    # Deleting frees the name.
    api.ok("POST", "/api/templates", {"name": template["name"], "prompt": "again"}, status=201)


def test_names_are_unique_and_a_rename_moves_the_claim(api: Api) -> None:
    first = api.ok("POST", "/api/templates", {"name": unique("a"), "prompt": "p"}, status=201)
    second = api.ok("POST", "/api/templates", {"name": unique("b"), "prompt": "p"}, status=201)
    duplicate = api.post("/api/templates", {"name": first["name"], "prompt": "p"})
    assert duplicate.status_code == 409 and duplicate.json()["existingId"] == first["id"]
    clash = api.request("PATCH", f"/api/templates/{second['id']}", json={"name": first["name"]})
    assert clash.status_code == 409 and clash.json()["existingId"] == first["id"]
    assert api.ok("GET", f"/api/templates/{second['id']}")["name"] == second["name"]

    renamed = unique("a2")
    assert api.ok("PATCH", f"/api/templates/{first['id']}", {"name": renamed})["name"] == renamed
    assert api.ok("PATCH", f"/api/templates/{first['id']}", {"name": renamed})["name"] == renamed
    taken = api.post("/api/templates", {"name": renamed, "prompt": "p"})
    assert taken.status_code == 409 and taken.json()["existingId"] == first["id"]
    api.ok("POST", "/api/templates", {"name": first["name"], "prompt": "p"}, status=201)


@pytest.mark.parametrize("body,field", [
    ({"prompt": "p"}, "name"),
    ({"name": "n"}, "prompt"),
    ({"name": "", "prompt": "p"}, "name"),
    ({"name": "n", "prompt": "p", "priority": 1001}, "priority"),
    ({"name": "n", "prompt": "p", "agentType": "robot"}, "agentType"),
    ({"name": "n", "prompt": "p", "repoUrl": "nope"}, "repoUrl"),
    ({"name": "n", "prompt": "p", "repoId": str(uuid.uuid4())}, "repoId"),
    ({"name": "n", "prompt": "p", "paramsSchema": {"type": "thing"}}, "paramsSchema"),
    ({"name": "n", "prompt": "p", "metadata": []}, "metadata"),
    ({"name": "n", "prompt": "p", "state": "queued"}, "state"),
])
def test_bad_template_input_names_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    assert field in fields(api.post("/api/templates", body))


@pytest.mark.parametrize("body,field", [
    ({"name": None}, "name"),
    ({"prompt": None}, "prompt"),
    ({"prompt": ""}, "prompt"),
    ({"priority": -1}, "priority"),
    ({"priority": "high"}, "priority"),
    ({"title": "x" * 201}, "title"),
    ({"agentType": "robot"}, "agentType"),
    ({"repoUrl": "ftp://x/y/z"}, "repoUrl"),
    ({"paramsSchema": {"required": "pkg"}}, "paramsSchema"),
    ({"id": "mine"}, "id"),
])
def test_bad_patch_names_the_field(api: Api, template: dict[str, Any], body: dict[str, Any],
                                   field: str) -> None:
    path = f"/api/templates/{template['id']}"
    assert field in fields(api.request("PATCH", path, json=body))
    assert api.ok("GET", path) == template


def test_run_creates_a_task_from_the_template(api: Api, template: dict[str, Any], repo: dict[str, Any]) -> None:
    task = api.ok("POST", f"/api/templates/{template['id']}/run", {}, status=201)
    assert task["title"] == "Bump dependencies"
    assert task["prompt"] == "[fake:noop] bump {{pkg}}"
    assert task["repoId"] == repo["id"] and task["priority"] == 7 and task["agentType"] == "claude-code"
    assert task["metadata"] == {"team": "platform", "templateId": template["id"]}
    assert task["state"] == "pending" and task["branchName"].startswith("optio/bump-dependencies-")
    assert api.task(task["id"])["metadata"]["templateId"] == template["id"]


def test_run_overrides_win(api: Api, template: dict[str, Any], tmp_path: Path) -> None:
    other_repo = api.ok("POST", "/api/repos", {"repoUrl": str(make_bare_repo(tmp_path, "other.git"))}, status=201)
    task = api.ok("POST", f"/api/templates/{template['id']}/run", {
        "title": "Bump numpy", "repoUrl": other_repo["repoUrl"], "priority": 0, "params": {"pkg": "numpy"},
    }, status=201)
    assert task["title"] == "Bump numpy" and task["priority"] == 0
    assert task["repoId"] == other_repo["id"]
    assert task["metadata"]["templateId"] == template["id"]


def test_run_title_defaults_to_the_name_and_needs_a_repo(api: Api, repo: dict[str, Any]) -> None:
    bare = api.ok("POST", "/api/templates", {"name": unique("plain"), "prompt": "[fake:noop]"}, status=201)
    assert "repoId" in fields(api.post(f"/api/templates/{bare['id']}/run", {}))
    task = api.ok("POST", f"/api/templates/{bare['id']}/run", {"repoId": repo["id"]}, status=201)
    assert task["title"] == bare["name"] and task["priority"] == 0
    assert task["metadata"] == {"templateId": bare["id"]}


@pytest.mark.parametrize("body,field", [
    ({"priority": 1001}, "priority"),
    ({"title": ""}, "title"),
    ({"params": "pkg=numpy"}, "params"),
    ({"prompt": "instead"}, "prompt"),
    ({"repoId": str(uuid.uuid4())}, "repoId"),
])
def test_bad_run_input_names_the_field(api: Api, template: dict[str, Any], body: dict[str, Any],
                                       field: str) -> None:
    assert field in fields(api.post(f"/api/templates/{template['id']}/run", body))


def test_run_of_an_unknown_template_is_404(api: Api) -> None:
    response = api.post(f"/api/templates/{uuid.uuid4()}/run", {})
    assert response.status_code == 404 and "not found" in response.json()["error"]


def test_racing_creations_of_one_name_make_one_template(api: Api) -> None:
    name = unique("race")
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: api.post("/api/templates", {"name": name, "prompt": "p"}).status_code,
                              range(8)))
    assert codes.count(201) == 1 and set(codes) == {201, 409}


def test_run_renders_title_and_prompt_with_checked_params(api: Api, repo: dict[str, Any]) -> None:
    template = api.ok("POST", "/api/templates", {
        "name": unique("cve"), "repoId": repo["id"], "title": "Patch {{pkg}}",
        "prompt": "[fake:noop] patch {{pkg}}{{#if urgent}} now{{else}} soon{{/if}} ({{level}}) {{other}}",
        "paramsSchema": {"type": "object", "required": ["pkg"], "properties": {
            "pkg": {"type": "string", "minLength": 1},
            "urgent": {"type": "boolean", "default": False},
            "level": {"type": "string", "enum": ["low", "high"], "default": "high"}}},
    }, status=201)
    task = api.ok("POST", f"/api/templates/{template['id']}/run", {"params": {"pkg": "openssl"}}, status=201)
    assert task["title"] == "Patch openssl"
    assert task["prompt"] == "[fake:noop] patch openssl soon (high) {{other}}"
    task = api.ok("POST", f"/api/templates/{template['id']}/run",
                  {"params": {"pkg": "zlib", "urgent": True, "level": "low"}}, status=201)
    assert task["prompt"] == "[fake:noop] patch zlib now (low) {{other}}"

    response = api.post(f"/api/templates/{template['id']}/run", {"params": {"urgent": "yes", "level": "mid"}})
    assert sorted(fields(response)) == ["params.level", "params.pkg", "params.urgent"]
