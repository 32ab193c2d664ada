"""What a local agent process can read of its environment: the stand-in `claude` dumps the
environment it was started with (/proc/self/environ) and the test reads it. The server's keys and
the runner's token never reach it; its secrets, PATH and its own HOME do."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.localmode import LocalMode
from tests.support.waiting import wait_for

pytestmark = pytest.mark.xdist_group("e2e-agent-environment")

SERVER_KEYS = ("OPTIO_API_TOKEN", "OPTIO_SECRETS_KEY", "OPTIO_RUN_TOKEN_SECRET", "OPTIO_SETUP_TOKEN")


def test_the_agent_sees_only_what_it_needs(local_mode: LocalMode, repo_path: Path, tmp_path: Path) -> None:
    api = local_mode.api
    api.ok("PUT", "/api/secrets/ANTHROPIC_API_KEY", {"value": "sk-ant-for-the-agent"}, status=201)
    # Stored with the agents' keys, but Optio's own: it signs the GitHub deliveries.
    api.ok("PUT", "/api/secrets/GITHUB_WEBHOOK_SECRET", {"value": "whsec-of-the-server"}, status=201)
    # Likewise the identity provider's client secret (sign-in through OpenID Connect).
    api.ok("PUT", "/api/secrets/OIDC_CLIENT_SECRET", {"value": "oidc-client-secret-of-the-server"}, status=201)
    dump = tmp_path / "agent-env.json"
    task = api.ok("POST", "/api/tasks", {"title": "Show the environment", "repoUrl": str(repo_path),
                                         "prompt": f"[fake:env={dump}] [fake:noop] show it"}, status=201)
    api.wait_state(task["id"], {"needs_attention", "completed", "failed"}, timeout_s=120)
    seen: dict[str, str] = wait_for(lambda: dump.exists() and json.loads(dump.read_text()),
                                    what="the agent's environment dump")

    assert not [name for name in seen if name in SERVER_KEYS or name.startswith("AWS_")]
    assert "OPTIO_RUN_TOKEN" not in seen and "OPTIO_DYNAMODB_ENDPOINT" not in seen
    server_values = [(local_mode.data_dir / name).read_text().strip()
                     for name in ("admin-token", "run-token-secret", "secrets-key", "setup-token")]
    server_values += ["whsec-of-the-server", "oidc-client-secret-of-the-server"]
    assert not [name for name, value in seen.items() if any(secret in value for secret in server_values)]

    assert seen["ANTHROPIC_API_KEY"] == "sk-ant-for-the-agent"
    assert seen["PATH"] and seen["OPTIO_PROMPT"].endswith("show it")
    # Its own HOME, inside the attempt's workspace, and the stand-in's setting the tests pass on.
    assert seen["HOME"].startswith(str(local_mode.data_dir)) and seen["FAKE_AGENT_LOG"]


def test_a_templates_task_gets_exactly_the_secrets_it_lists(local_mode: LocalMode, repo_path: Path,
                                                             tmp_path: Path) -> None:
    api = local_mode.api
    # Stored by the test before too when both run: 201 or 200.
    assert api.request("PUT", "/api/secrets/ANTHROPIC_API_KEY", json={"value": "sk-ant-for-the-agent"}).ok
    api.ok("PUT", "/api/secrets/NPM_TOKEN", {"value": "npm-for-this-template"}, status=201)
    dump = tmp_path / "agent-env.json"
    template = api.ok("POST", "/api/templates", {
        "name": "scoped environment", "title": "Show the scoped environment", "repoUrl": str(repo_path),
        "prompt": f"[fake:env={dump}] [fake:noop] show it", "environment": {"secrets": ["NPM_TOKEN"]}}, status=201)
    task = api.ok("POST", f"/api/templates/{template['id']}/run", {}, status=201)
    api.wait_state(task["id"], {"needs_attention", "completed", "failed"}, timeout_s=120)
    seen: dict[str, str] = wait_for(lambda: dump.exists() and json.loads(dump.read_text()),
                                    what="the agent's environment dump")

    assert seen["NPM_TOKEN"] == "npm-for-this-template"
    assert "ANTHROPIC_API_KEY" not in seen
    assert "sk-ant-for-the-agent" not in json.dumps(seen)
