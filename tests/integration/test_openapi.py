"""The OpenAPI document covers exactly the routes the app serves, with the request schemas the
services validate against."""
from __future__ import annotations

from typing import Any

import pytest

from chalicelib.api.http import DOCS
from chalicelib.core import schemas
from tests.support.api import Api

pytestmark = pytest.mark.xdist_group("stack")

# SPEC §4 routes built so far (repo tasks, repos, templates, comments, auth, runner, docs).
SPEC_ROUTES = {
    ("GET", "/api/health"), ("GET", "/api/tasks"), ("POST", "/api/tasks"),
    ("GET", "/api/tasks/{task_id}"), ("PATCH", "/api/tasks/{task_id}"), ("DELETE", "/api/tasks/{task_id}"),
    ("POST", "/api/tasks/{task_id}/cancel"), ("POST", "/api/tasks/{task_id}/retry"),
    ("POST", "/api/tasks/{task_id}/resume"), ("POST", "/api/tasks/{task_id}/force-restart"),
    ("POST", "/api/tasks/{task_id}/force-redo"), ("POST", "/api/tasks/{task_id}/review"),
    ("POST", "/api/tasks/reorder"), ("POST", "/api/tasks/bulk/retry-failed"),
    ("POST", "/api/tasks/bulk/cancel-active"), ("GET", "/api/tasks/{task_id}/subtasks"),
    ("POST", "/api/tasks/{task_id}/subtasks"), ("GET", "/api/tasks/{task_id}/subtasks/status"),
    ("GET", "/api/tasks/{task_id}/comments"), ("POST", "/api/tasks/{task_id}/comments"),
    ("PATCH", "/api/tasks/{task_id}/comments/{comment_id}"),
    ("DELETE", "/api/tasks/{task_id}/comments/{comment_id}"),
    ("GET", "/api/tasks/{task_id}/dependencies"), ("POST", "/api/tasks/{task_id}/dependencies"),
    ("DELETE", "/api/tasks/{task_id}/dependencies/{dep_id}"), ("GET", "/api/tasks/{task_id}/dependents"),
    ("GET", "/api/tasks/{task_id}/events"), ("GET", "/api/tasks/{task_id}/logs"),
    ("GET", "/api/repos"), ("POST", "/api/repos"), ("GET", "/api/repos/{repo_id}"),
    ("PATCH", "/api/repos/{repo_id}"), ("DELETE", "/api/repos/{repo_id}"),
    ("GET", "/api/templates"), ("POST", "/api/templates"), ("GET", "/api/templates/{template_id}"),
    ("PATCH", "/api/templates/{template_id}"), ("DELETE", "/api/templates/{template_id}"),
    ("POST", "/api/templates/{template_id}/run"), ("POST", "/api/internal/tasks/{task_id}/events"),
    ("GET", "/api/openapi.json"), ("POST", "/api/auth/api-keys"), ("GET", "/api/auth/api-keys"),
    ("DELETE", "/api/auth/api-keys/{key_id}"), ("GET", "/api/secrets"), ("GET", "/api/secrets/{name}"),
    ("PUT", "/api/secrets/{name}"), ("DELETE", "/api/secrets/{name}"),
    ("GET", "/api/tasks/{task_id}/runs"), ("POST", "/api/tasks/{task_id}/runs"),
    ("GET", "/api/tasks/{task_id}/runs/{run_id}"), ("GET", "/api/task-configs"), ("POST", "/api/task-configs"),
    ("GET", "/api/tasks/{task_id}/triggers"), ("POST", "/api/tasks/{task_id}/triggers"),
    ("PATCH", "/api/tasks/{task_id}/triggers/{trigger_id}"), ("DELETE", "/api/tasks/{task_id}/triggers/{trigger_id}"),
    ("POST", "/api/hooks/{path}"), ("GET", "/api/workflow-runs/{run_id}"),
    ("GET", "/api/workflow-runs/{run_id}/logs"), ("POST", "/api/workflow-runs/{run_id}/cancel"),
    ("POST", "/api/workflow-runs/{run_id}/retry"), ("GET", "/api/jobs"), ("POST", "/api/jobs"),
    ("GET", "/api/jobs/{task_id}/runs"),
}


@pytest.fixture(scope="module")
def document(api: Api) -> dict[str, Any]:
    return api.ok("GET", "/api/openapi.json")  # type: ignore[no-any-return]


def operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}


def test_every_served_route_is_documented_and_nothing_else(document: dict[str, Any]) -> None:
    from app import app

    # The dashboard's pages and assets are served too, but are not API operations.
    served = {(method, path) for path, methods in app.routes.items() for method in methods
              if path.startswith("/api/")}
    assert operations(document) == served
    # Every served route went through the one route helper that maps errors and records docs.
    assert served == {(method, path) for path, method in DOCS}


def test_the_spec_routes_built_so_far_are_all_there(document: dict[str, Any]) -> None:
    assert SPEC_ROUTES <= operations(document)


def test_request_bodies_are_the_validation_schemas(document: dict[str, Any]) -> None:
    body = document["paths"]["/api/tasks"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == schemas.TASK_CREATE_ANY
    assert all(op["summary"] for ops in document["paths"].values() for op in ops.values())


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    import schemathesis

    loaded = schemathesis.openapi.from_dict(document)
    assert len(list(loaded.get_all_operations())) == len(operations(document))


def test_the_document_needs_a_token(anonymous: Api) -> None:
    assert anonymous.get("/api/openapi.json").status_code == 401
