"""Standalone tasks (`type: standalone`) and their workflow runs over HTTP: definitions, runs
with rendered prompts, cancel and retry, and the `/api/jobs` aliases. How runs execute is
`tests/e2e/test_standalone_runs.py`."""
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
def job(api: Api) -> dict[str, Any]:
    # The secrets a standalone task's agent gets must exist when it is defined.
    assert api.request("PUT", "/api/secrets/GITHUB_TOKEN", json={"value": "ghp-for-reports"}).status_code in (200, 201)
    return api.ok("POST", "/api/tasks", {  # type: ignore[no-any-return]
        "type": "standalone", "name": f"report-{uuid.uuid4().hex[:8]}", "description": "weekly",
        "agentRuntime": "claude", "promptTemplate": "Report on {{REPO_NAME}}: {{FOCUS}}",
        "paramsSchema": {"type": "object", "required": ["REPO_NAME"], "properties": {
            "REPO_NAME": {"type": "string"}, "FOCUS": {"type": "string", "default": "CVEs"}}},
        "maxTurns": 20, "budgetUsd": 2.5, "environment": {"image": "python:3.12", "secrets": ["GITHUB_TOKEN"]},
    }, status=201)


def test_standalone_crud_and_defaults(api: Api, job: dict[str, Any]) -> None:
    assert job["type"] == "standalone" and job["agentRuntime"] == "claude-code"
    assert job["maxRetries"] == 1 and job["maxConcurrent"] == 2 and job["enabled"] is True
    assert job["budgetUsd"] == 2.5 and "repoUrl" not in job
    assert api.ok("GET", f"/api/tasks/{job['id']}") == job
    assert api.ok("GET", f"/api/jobs/{job['id']}") == job
    patched = api.ok("PATCH", f"/api/jobs/{job['id']}", {"maxConcurrent": 1, "description": None})
    assert patched["maxConcurrent"] == 1 and patched["description"] is None
    assert "maxConcurrent" in fields(api.request("PATCH", f"/api/tasks/{job['id']}", json={"maxConcurrent": 0}))
    listed = api.ok("GET", "/api/tasks?type=standalone&limit=200")["items"]
    assert job["id"] in {j["id"] for j in listed}
    assert job["id"] in {j["id"] for j in api.ok("GET", "/api/jobs?limit=200")["items"]}
    assert job["id"] not in {j["id"] for j in api.ok("GET", "/api/tasks?type=repo-blueprint&limit=200")["items"]}
    assert api.request("DELETE", f"/api/tasks/{job['id']}").status_code == 204
    assert api.get(f"/api/jobs/{job['id']}").status_code == 404


def test_the_secrets_an_agent_gets_must_exist_and_be_an_agents(api: Api) -> None:
    body = {"type": "standalone", "name": f"scoped-{uuid.uuid4().hex[:8]}", "promptTemplate": "p"}
    missing = api.request("POST", "/api/tasks", json={**body, "environment": {"secrets": ["NO_SUCH_SECRET_X"]}})
    assert fields(missing) == ["environment.secrets.0"]
    assert "PUT /api/secrets/NO_SUCH_SECRET_X" in missing.json()["details"][0]["problem"]
    own = api.request("POST", "/api/tasks", json={**body, "environment": {"secrets": ["GITHUB_WEBHOOK_SECRET"]}})
    assert fields(own) == ["environment.secrets.0"] and "Optio's own" in own.json()["details"][0]["problem"]
    assert api.get("/api/tasks?type=standalone&limit=200").json()["items"] == [
        j for j in api.get("/api/tasks?type=standalone&limit=200").json()["items"] if j["name"] != body["name"]]


@pytest.mark.parametrize("body,field", [
    ({"name": "n"}, "promptTemplate"),
    ({"name": "n", "promptTemplate": "p", "budgetUsd": 0}, "budgetUsd"),
    ({"name": "n", "promptTemplate": "p", "environment": {"secrets": ["bad name"]}}, "environment.secrets.0"),
    ({"name": "n", "promptTemplate": "p", "repoUrl": "https://github.com/a/b"}, "repoUrl"),
])
def test_bad_standalone_tasks_name_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    response = api.post("/api/jobs", body)
    assert response.status_code == 400 and field in response.text, response.text


def test_runs_get_rendered_prompts_and_can_be_cancelled_and_retried(api: Api, job: dict[str, Any]) -> None:
    first = api.ok("POST", f"/api/tasks/{job['id']}/runs", {"params": {"REPO_NAME": "web"}}, status=202)
    assert first["type"] == "workflow-run"
    run = api.ok("GET", f"/api/workflow-runs/{first['runId']}")
    assert run["state"] in ("queued", "running", "completed") and run["prompt"] == "Report on web: CVEs"
    assert run["params"] == {"REPO_NAME": "web", "FOCUS": "CVEs"} and run["taskConfigId"] == job["id"]
    assert run["retryCount"] == 0 and run["maxRetries"] == 1
    assert api.ok("GET", f"/api/jobs/{job['id']}/runs/{first['runId']}")["id"] == first["runId"]
    assert [r["id"] for r in api.ok("GET", f"/api/tasks/{job['id']}/runs")["items"]] == [first["runId"]]

    assert sorted(fields(api.post(f"/api/tasks/{job['id']}/runs", {"params": {"FOCUS": 1}}))) == [
        "params.FOCUS", "params.REPO_NAME"]

    slow = api.ok("POST", f"/api/tasks/{job['id']}/runs",
                  {"params": {"REPO_NAME": "web", "FOCUS": "[fake:sleep=30]"}}, status=202)["runId"]
    cancelled = api.ok("POST", f"/api/workflow-runs/{slow}/cancel")
    assert cancelled["state"] == "failed" and cancelled["errorMessage"] == "Cancelled by user"
    assert cancelled["finishedAt"]
    assert api.post(f"/api/workflow-runs/{slow}/cancel").status_code == 409
    retried = api.ok("POST", f"/api/workflow-runs/{slow}/retry")
    assert retried["state"] in ("queued", "running") and retried["errorMessage"] is None
    assert retried["finishedAt"] is None and retried["retryCount"] == 0
    assert api.post(f"/api/workflow-runs/{slow}/retry").status_code == 409
    assert api.ok("POST", f"/api/workflow-runs/{slow}/cancel")["state"] == "failed"
    assert api.get(f"/api/workflow-runs/{uuid.uuid4()}").status_code == 404


def test_a_disabled_standalone_task_does_not_run(api: Api, job: dict[str, Any]) -> None:
    api.ok("PATCH", f"/api/tasks/{job['id']}", {"enabled": False})
    response = api.post(f"/api/tasks/{job['id']}/runs", {"params": {"REPO_NAME": "x"}})
    assert response.status_code == 400 and "disabled" in response.json()["error"]


def test_a_webhook_on_a_standalone_task_creates_a_workflow_run(api: Api, anonymous: Api, job: dict[str, Any]) -> None:
    path = f"job-{uuid.uuid4().hex[:8]}"
    api.ok("POST", f"/api/jobs/{job['id']}/triggers", {"type": "webhook", "config": {
        "path": path, "paramMapping": {"REPO_NAME": "$.repository.name"}}}, status=201)
    response = anonymous.post(f"/api/hooks/{path}", {"repository": {"name": "api"}})
    assert response.status_code == 202, response.text
    run = api.ok("GET", f"/api/workflow-runs/{response.json()['runId']}")
    assert run["prompt"] == "Report on api: CVEs" and run["triggerParams"] == {"REPO_NAME": "api", "FOCUS": "CVEs"}


# The standalone seed's own examples, verbatim: the task, then its weekly schedule with a constant param.
SEED_TASK: dict[str, Any] = {
    "type": "standalone",
    "name": "Weekly Security Report",
    "description": "Scans dependencies and generates a vulnerability summary",
    "agentRuntime": "claude-code",
    "model": "sonnet",
    "promptTemplate": "Analyze the dependency list for {{REPO_NAME}} and produce a security report. "
                      "Focus on: {{FOCUS_AREAS}}",
    "paramsSchema": {
        "type": "object",
        "properties": {
            "REPO_NAME": {"type": "string"},
            "FOCUS_AREAS": {"type": "string", "default": "CVEs, outdated packages, license issues"},
        },
        "required": ["REPO_NAME"],
    },
    "maxTurns": 20,
    "maxRetries": 2,
    "maxConcurrent": 1,
}
SEED_SCHEDULE: dict[str, Any] = {
    "type": "schedule",
    "config": {
        "cronExpression": "0 9 * * 1",
        "paramMapping": {
            "REPO_NAME": "optio",
        },
    },
}


def test_the_seeds_schedule_with_constant_params_is_taken_and_checked_against_the_schema(api: Api) -> None:
    task = api.ok("POST", "/api/tasks", SEED_TASK, status=201)
    trigger = api.ok("POST", f"/api/tasks/{task['id']}/triggers", SEED_SCHEDULE, status=201)
    assert trigger["config"] == SEED_SCHEDULE["config"] and trigger["nextFireAt"]
    # Every field the schedule could never fire validly with is named, at creation and on change.
    other = api.ok("POST", "/api/tasks", {**SEED_TASK, "name": f"report-{uuid.uuid4().hex[:8]}"}, status=201)
    path = f"/api/tasks/{other['id']}/triggers"
    assert fields(api.post(path, {"type": "schedule", "config": {"cronExpression": "0 9 * * 1"}})) == [
        "config.paramMapping.REPO_NAME"]
    assert sorted(fields(api.post(path, {"type": "schedule", "config": {
        "cronExpression": "0 9 * * 1", "paramMapping": {"FOCUS_AREAS": 7}}}))) == [
        "config.paramMapping.FOCUS_AREAS", "config.paramMapping.REPO_NAME"]
    assert fields(api.post(path, {"type": "schedule", "config": {
        "cronExpression": "0 9 * * 1", "paramMapping": "optio"}})) == ["config.paramMapping"]
    assert api.ok("GET", path)["items"] == []
    changed = api.request("PATCH", f"/api/tasks/{task['id']}/triggers/{trigger['id']}",
                          json={"config": {"cronExpression": "0 9 * * 1", "paramMapping": {}}})
    assert fields(changed) == ["config.paramMapping.REPO_NAME"]
    [kept] = api.ok("GET", f"/api/tasks/{task['id']}/triggers")["items"]
    assert kept["config"] == SEED_SCHEDULE["config"]
