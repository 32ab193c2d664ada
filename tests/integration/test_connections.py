"""Connections (`/api/connections`): MCP servers named with the secrets they need, listed by the
definitions whose agents get them; checked when defined, carried to tasks, and turned into the
runner's OPTIO_CONNECTIONS and the agent's secrets by the real launch spec."""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.api import Api

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def fields(response: Any, status: int = 400) -> list[str]:
    assert response.status_code == status, response.text
    return [d["field"] for d in response.json()["details"]]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture()
def secret(api: Api) -> str:
    name = f"MCP_{uuid.uuid4().hex[:8].upper()}"
    api.ok("PUT", f"/api/secrets/{name}", {"value": "for-the-mcp-server"}, status=201)
    return name


@pytest.mark.xdist_group("stack")
def test_a_connection_is_created_read_changed_and_deleted(api: Api, secret: str) -> None:
    name = unique("tracker")
    body = {"name": name, "kind": "stdio", "command": "npx", "args": ["-y", "tracker-mcp@1.2.3"],
            "env": {"TRACKER_TOKEN": secret}, "description": "the issue tracker"}
    made = api.ok("POST", "/api/connections", body, status=201)
    assert made["secrets"] == [secret] and made["env"] == {"TRACKER_TOKEN": secret} and made["url"] is None
    assert "for-the-mcp-server" not in json.dumps(made)
    assert api.ok("GET", f"/api/connections/{name}") == made
    assert name in [c["name"] for c in api.ok("GET", "/api/connections")["items"]]
    assert api.request("POST", "/api/connections", json=body).status_code == 409

    # Another kind: the other kind's fields go with a null.
    changed = api.ok("PATCH", f"/api/connections/{name}", {
        "kind": "http", "url": "https://mcp.example.com/mcp", "headers": {"Authorization": f"Bearer ${{{secret}}}"},
        "command": None, "args": None, "env": None})
    assert (changed["kind"], changed["command"], changed["secrets"]) == ("http", None, [secret])
    assert fields(api.request("PATCH", f"/api/connections/{name}", json={"command": "x"})) == ["command"]

    assert api.request("DELETE", f"/api/connections/{name}").status_code == 204
    assert api.request("GET", f"/api/connections/{name}").status_code == 404


@pytest.mark.xdist_group("stack")
def test_bad_connections_are_refused_naming_the_field(api: Api, secret: str) -> None:
    def refused(body: dict[str, Any]) -> list[str]:
        return fields(api.request("POST", "/api/connections", json={"name": unique("c"), **body}))

    assert refused({"kind": "stdio", "command": "srv", "env": {"TOKEN": "NOT_STORED_ANYWHERE"}}) == ["env.TOKEN"]
    assert refused({"kind": "stdio", "command": "srv", "env": {"TOKEN": "GITHUB_WEBHOOK_SECRET"}}) == ["env.TOKEN"]
    assert refused({"kind": "http", "url": "https://x.example/mcp",
                    "headers": {"X-Key": f"${{{secret}}}", "Authorization": "Bearer ${NOT_STORED_ANYWHERE}"}}) == [
        "headers.Authorization"]
    assert refused({"kind": "http", "url": "https://x.example/mcp", "headers": {"X-Key": "${broken"}}) == [
        "headers.X-Key"]
    assert refused({"kind": "stdio"}) == ["command"]
    assert refused({"kind": "http", "url": "https://x.example/mcp", "command": "srv"}) == ["command"]
    assert refused({"kind": "stdio", "command": "srv", "env": {"TOKEN": "a value, not a name"}}) == ["env.TOKEN"]
    bad_name = api.request("POST", "/api/connections", json={"name": "Not A Slug", "kind": "stdio", "command": "s"})
    assert fields(bad_name) == ["name"]


@pytest.mark.xdist_group("stack")
def test_administrators_write_connections_and_everyone_reads_them(api: Api) -> None:
    # test_roles refuses each route to the roles below the one its document states.
    ops = api.ok("GET", "/api/openapi.json")["paths"]
    assert {method: op["x-optio-role"] for method, op in ops["/api/connections"].items()} == {
        "post": "admin", "get": "viewer"}
    assert {method: op["x-optio-role"] for method, op in ops["/api/connections/{name}"].items()} == {
        "get": "viewer", "patch": "admin", "delete": "admin"}
    assert ops["/api/connections"]["post"]["requestBody"]["content"]["application/json"]["schema"]["required"] == [
        "name", "kind"]


@pytest.mark.xdist_group("stack")
def test_definitions_list_connections_that_exist_and_keep_them(api: Api, repo: dict[str, Any]) -> None:
    name = unique("docs")
    api.ok("POST", "/api/connections", {"name": name, "kind": "stdio", "command": "docs-mcp"}, status=201)
    template = api.ok("POST", "/api/templates", {
        "name": unique("t"), "prompt": "[fake:noop] p", "repoId": repo["id"],
        "environment": {"connections": [name]}}, status=201)
    assert api.ok("POST", f"/api/templates/{template['id']}/run", {}, status=201)["environment"] == {
        "connections": [name]}
    blueprint = api.ok("POST", "/api/tasks", {"type": "repo-blueprint", "name": unique("b"), "prompt": "p",
                                              "repoId": repo["id"], "environment": {"connections": [name]}}, status=201)
    standalone = api.ok("POST", "/api/tasks", {"type": "standalone", "name": unique("s"), "promptTemplate": "p",
                                               "environment": {"connections": [name]}}, status=201)

    # Listed: not deleted from under them; the 409 names every definition that lists it.
    gone = api.request("DELETE", f"/api/connections/{name}")
    assert gone.status_code == 409, gone.text
    users = gone.json()["usedBy"]
    assert {f"template {template['id']}", f"blueprint {blueprint['id']}", f"standalone task {standalone['id']}"} == {
        user.split(" (")[0] for user in users}
    for path in (f"/api/templates/{template['id']}", f"/api/tasks/{blueprint['id']}", f"/api/tasks/{standalone['id']}"):
        api.ok("PATCH", path, {"environment": None})
    assert api.request("DELETE", f"/api/connections/{name}").status_code == 204


@pytest.mark.xdist_group("stack")
@pytest.mark.parametrize("kind", ["task", "template", "repo-blueprint", "standalone", "repo"])
def test_unknown_connections_are_refused(api: Api, repo: dict[str, Any], kind: str) -> None:
    environment = {"connections": ["no-such-connection"]}
    bodies: dict[str, tuple[str, str, dict[str, Any]]] = {
        "task": ("POST", "/api/tasks", {"title": "t", "prompt": "p", "repoId": repo["id"]}),
        "template": ("POST", "/api/templates", {"name": unique("t"), "prompt": "p", "repoId": repo["id"]}),
        "repo-blueprint": ("POST", "/api/tasks", {"type": "repo-blueprint", "name": unique("b"), "prompt": "p",
                                                  "repoId": repo["id"]}),
        "standalone": ("POST", "/api/tasks", {"type": "standalone", "name": unique("s"), "promptTemplate": "p"}),
        "repo": ("PATCH", f"/api/repos/{repo['id']}", {}),
    }
    method, path, body = bodies[kind]
    assert fields(api.request(method, path, json={**body, "environment": environment})) == [
        "environment.connections.0"]


@pytest.fixture()
def in_process() -> Iterator[None]:
    from chalicelib.store import secrets
    from chalicelib.store.tables import create_all

    create_all()
    secrets.put("ANTHROPIC_API_KEY", "sk-ant-for-agents", NOW)
    yield


@pytest.mark.xdist_group("in-process")
def test_the_agent_gets_its_connections_and_their_secrets_only(in_process: None) -> None:
    from chalicelib.core.states import State
    from chalicelib.engine.executor import launch_input
    from chalicelib.services.connections import create_connection
    from chalicelib.services.standalone import create_standalone
    from chalicelib.store import executions, secrets

    for name in ("WIKI_TOKEN", "CRM_TOKEN", "REPORT_TOKEN"):
        secrets.put(name, f"value-of-{name}", NOW)
    wiki, crm = unique("wiki"), unique("crm")
    create_connection({"name": wiki, "kind": "stdio", "command": "wiki-mcp", "args": ["--read-only"],
                       "env": {"WIKI_API_TOKEN": "WIKI_TOKEN"}})
    create_connection({"name": crm, "kind": "http", "url": "https://crm.example.com/mcp",
                       "headers": {"Authorization": "Bearer ${CRM_TOKEN}"}})

    def spec_of(environment: dict[str, Any] | None) -> Any:
        config = create_standalone({"type": "standalone", "name": unique("s"), "promptTemplate": "p",
                                    **({"environment": environment} if environment else {})})
        run = executions.create({
            "id": str(uuid.uuid4()), "type": "workflow-run", "state": State.RUNNING.value, "title": config.name,
            "prompt": "p", "agentType": "claude-code", "taskConfigId": config.id, "attempt": 1}, NOW)
        return launch_input(run, 1)[0]

    scoped = spec_of({"secrets": ["REPORT_TOKEN"], "connections": [wiki]})
    assert json.loads(scoped.environment["OPTIO_CONNECTIONS"]) == [
        {"name": wiki, "kind": "stdio", "command": "wiki-mcp", "args": ["--read-only"],
         "env": {"WIKI_API_TOKEN": "WIKI_TOKEN"}}]
    # Its own list plus what its connection names; not the other connection's secret.
    assert set(scoped.secrets) == {"REPORT_TOKEN", "WIKI_TOKEN"}
    assert "value-of-WIKI_TOKEN" not in json.dumps(dict(scoped.environment))

    both = spec_of({"secrets": [], "connections": [crm, wiki]})
    assert [c["name"] for c in json.loads(both.environment["OPTIO_CONNECTIONS"])] == [crm, wiki]
    assert set(both.secrets) == {"CRM_TOKEN", "WIKI_TOKEN"}
    assert "OPTIO_CONNECTIONS" not in spec_of(None).environment


@pytest.mark.xdist_group("in-process")
def test_a_task_whose_connection_is_gone_fails_naming_it(in_process: None) -> None:
    from chalicelib.core.states import State
    from chalicelib.engine.connections import ConnectionMissing
    from chalicelib.engine.executor import launch_input
    from chalicelib.services.connections import create_connection
    from chalicelib.services.repos import register_repo
    from chalicelib.store import connections, executions

    name = unique("gone")
    create_connection({"name": name, "kind": "stdio", "command": "srv"})
    repo = register_repo({"repoUrl": f"https://github.com/acme/conn-{uuid.uuid4().hex[:8]}"})
    task = executions.create({
        "id": str(uuid.uuid4()), "state": State.PROVISIONING.value, "title": "t", "prompt": "p",
        "repoId": repo.id, "repoUrl": repo.repoUrl, "repoBranch": "main", "branchName": "optio/conn",
        "agentType": "claude-code", "attempt": 1, "environment": {"connections": [name]}}, NOW)
    assert json.loads(launch_input(task, 1)[0].environment["OPTIO_CONNECTIONS"])[0]["name"] == name
    # Tasks are not scanned when a connection is deleted: the launch refuses, naming it.
    connections.delete(connections.get(name))
    with pytest.raises(ConnectionMissing, match=name):
        launch_input(task, 1)
