"""Fault: deliveries with a wrong signature, none, one made over the JSON re-serialised (other
bytes, same data), and to a hook that does not exist. Each is refused (401, or 404 for the
unknown hook), writes nothing, and its body never reaches the server's log."""
from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

import pytest
import requests

from tests.support.localmode import LocalMode

pytestmark = pytest.mark.xdist_group("faults-bad-signatures")
SECRET = "whsec-bad-signatures"


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def counts(mode: LocalMode, blueprint_id: str) -> tuple[int, int]:
    tasks = mode.api.ok("GET", "/api/tasks?type=all&limit=200")["items"]
    runs = mode.api.ok("GET", f"/api/tasks/{blueprint_id}/runs")["items"]
    return len(tasks), len(runs)


def test_bad_signatures(local_mode: LocalMode, repo_id: str) -> None:
    api = local_mode.api
    api.ok("PUT", "/api/secrets/GITHUB_WEBHOOK_SECRET", {"value": SECRET}, status=201)
    blueprint = api.ok("POST", "/api/tasks", {"type": "repo-blueprint", "name": f"bp-{uuid.uuid4().hex[:8]}",
                                              "prompt": "[fake:noop] {{x}}", "repoId": repo_id}, status=201)
    path = f"signed-{uuid.uuid4().hex[:8]}"
    api.ok("POST", f"/api/tasks/{blueprint['id']}/triggers",
           {"type": "webhook", "config": {"path": path, "secret": SECRET}}, status=201)
    before = counts(local_mode, blueprint["id"])

    marker = f"marker-{uuid.uuid4().hex}"
    payload: dict[str, Any] = {"action": "labeled", "label": {"name": "optio"}, "x": marker,
                               "repository": {"full_name": "acme/app"}}
    body = json.dumps(payload, separators=(",", ":")).encode()
    reserialised = json.dumps(payload, indent=2).encode()
    github = f"{local_mode.url}/api/webhooks/github"
    hook = f"{local_mode.url}/api/hooks/{path}"
    attempts = [
        (github, {"X-Hub-Signature-256": sign(body, "not-the-secret")}, body, 401),
        (github, {}, body, 401),
        (github, {"X-Hub-Signature-256": sign(body)}, reserialised, 401),
        (hook, {"X-Optio-Signature": sign(body, "not-the-secret")}, body, 401),
        (hook, {}, body, 401),
        (hook, {"X-Optio-Signature": sign(body)}, reserialised, 401),
        (f"{local_mode.url}/api/hooks/no-such-{uuid.uuid4().hex[:6]}", {"X-Optio-Signature": sign(body)}, body, 404),
    ]
    for url, headers, data, status in attempts:
        response = requests.post(url, data=data, timeout=30, headers={
            "Content-Type": "application/json", "X-GitHub-Event": "issues",
            "X-GitHub-Delivery": str(uuid.uuid4()), **headers})
        assert response.status_code == status, (url, headers, response.text)
        assert set(response.json()) == {"error"} and marker not in response.text

    assert counts(local_mode, blueprint["id"]) == before
    assert marker not in local_mode.output.read_text()
