"""Scoped secrets through blueprints and templates: the list a definition names is checked when it
is defined, carried to each task created from it (stored on the task) and checked again there."""
from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.api import Api

pytestmark = pytest.mark.xdist_group("stack")


def fields(response: Any) -> list[str]:
    assert response.status_code == 400, response.text
    return [d["field"] for d in response.json()["details"]]


@pytest.fixture()
def scoped_secret(api: Api) -> str:
    name = f"SCOPED_{uuid.uuid4().hex[:8].upper()}"
    api.ok("PUT", f"/api/secrets/{name}", {"value": "for-this-definition-only"}, status=201)
    return name


def test_a_blueprints_runs_carry_its_secrets(api: Api, repo: dict[str, Any], scoped_secret: str) -> None:
    blueprint = api.ok("POST", "/api/tasks", {
        "type": "repo-blueprint", "name": f"scoped-{uuid.uuid4().hex[:8]}", "prompt": "[fake:noop] p",
        "repoId": repo["id"], "environment": {"secrets": [scoped_secret]}}, status=201)
    assert blueprint["environment"] == {"secrets": [scoped_secret]}
    run = api.ok("POST", f"/api/tasks/{blueprint['id']}/runs", {}, status=202)
    assert api.task(run["runId"])["environment"] == {"secrets": [scoped_secret]}

    path = f"/api/tasks/{blueprint['id']}"
    assert fields(api.request("PATCH", path, json={"environment": {"secrets": [scoped_secret, "NOT_STORED_X"]}})) == [
        "environment.secrets.1"]
    assert fields(api.request("PATCH", path, json={"environment": {"secrets": ["GITHUB_WEBHOOK_SECRET"]}})) == [
        "environment.secrets.0"]
    assert api.ok("PATCH", path, {"environment": None})["environment"] is None


def test_a_templates_tasks_carry_its_secrets(api: Api, repo: dict[str, Any], scoped_secret: str) -> None:
    template = api.ok("POST", "/api/templates", {
        "name": f"scoped-{uuid.uuid4().hex[:8]}", "prompt": "[fake:noop] p", "repoId": repo["id"],
        "environment": {"secrets": [scoped_secret]}}, status=201)
    task = api.ok("POST", f"/api/templates/{template['id']}/run", {}, status=201)
    assert task["environment"] == {"secrets": [scoped_secret]}

    # Deleted since the template was defined: the task is refused, not run with fewer secrets.
    api.ok("DELETE", f"/api/secrets/{scoped_secret}", status=204)
    refused = api.request("POST", f"/api/templates/{template['id']}/run", json={})
    assert fields(refused) == ["environment.secrets.0"]


@pytest.mark.parametrize("method,path", [("POST", "/api/templates"), ("POST", "/api/tasks")])
def test_unknown_secrets_are_refused_at_definition(api: Api, repo: dict[str, Any], method: str, path: str) -> None:
    body: dict[str, Any] = {"name": f"n-{uuid.uuid4().hex[:8]}", "prompt": "p", "repoId": repo["id"],
                            "environment": {"secrets": ["NOT_STORED_ANYWHERE"]}}
    if path == "/api/tasks":
        body["type"] = "repo-blueprint"
    assert fields(api.request(method, path, json=body)) == ["environment.secrets.0"]
    task = {"title": "t", "prompt": "p", "repoId": repo["id"], "environment": {"secrets": ["NOT_STORED_ANYWHERE"]}}
    assert fields(api.request("POST", "/api/tasks", json=task)) == ["environment.secrets.0"]
