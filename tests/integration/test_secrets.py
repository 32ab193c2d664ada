"""Secrets: write-only over the API, encrypted at rest, handed to agents as environment."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.api import Api
from tests.support.gitrepo import branch_file

pytestmark = pytest.mark.xdist_group("stack")


def test_values_go_in_and_never_come_out(api: Api) -> None:
    created = api.request("PUT", "/api/secrets/DEMO_TOKEN", json={"value": "s3cr3t-value"})
    assert created.status_code == 201 and "value" not in created.json()
    replaced = api.request("PUT", "/api/secrets/DEMO_TOKEN", json={"value": "second-value"})
    assert replaced.status_code == 200
    listed = api.ok("GET", "/api/secrets")
    assert "DEMO_TOKEN" in [s["name"] for s in listed["items"]]
    assert "second-value" not in str(listed) and "second-value" not in api.get("/api/secrets/DEMO_TOKEN").text
    assert api.request("DELETE", "/api/secrets/DEMO_TOKEN").status_code == 204
    assert api.get("/api/secrets/DEMO_TOKEN").status_code == 404


def test_bad_names_and_bodies_are_400(api: Api) -> None:
    assert api.request("PUT", "/api/secrets/1BAD", json={"value": "x"}).json()["details"][0]["field"] == "name"
    empty = api.request("PUT", "/api/secrets/GOOD_NAME", json={"value": ""})
    assert empty.status_code == 400 and empty.json()["details"][0]["field"] == "value"


def test_stored_values_are_encrypted() -> None:
    import os

    import boto3
    client = boto3.client("dynamodb", endpoint_url=os.environ["OPTIO_DYNAMODB_ENDPOINT"], region_name="us-east-1")
    from chalicelib.engine.clock import utcnow
    from chalicelib.store import secrets
    from chalicelib.store.tables import create_all

    create_all()
    secrets.put("AT_REST", "plain-text-value", utcnow())
    raw = client.get_item(TableName=f"{os.environ['OPTIO_TABLE_PREFIX']}secrets", Key={"name": {"S": "AT_REST"}})
    assert "plain-text-value" not in str(raw["Item"])
    assert secrets.value_of("AT_REST") == "plain-text-value"


def test_agents_get_the_secrets_as_environment(api: Api, bare_repo: Path) -> None:
    api.request("PUT", "/api/secrets/AGENT_SEES_ME", json={"value": "visible-to-agent"})
    repo: dict[str, Any] = api.ok("POST", "/api/repos", {
        "repoUrl": str(bare_repo), "defaultAgentType": "custom",
        "customCommand": 'printf "%s" "$AGENT_SEES_ME" > secret.txt'}, status=201)
    task = api.ok("POST", "/api/tasks", {"title": "Read a secret", "prompt": "x", "repoId": repo["id"]},
                  status=201)
    done = api.wait_state(task["id"], {"completed", "failed"})
    assert done["state"] == "completed", done
    assert branch_file(bare_repo, task["branchName"], "secret.txt") == "visible-to-agent"
