"""Each function's role grants only the tables, indexes and actions its code reaches
(infra/optio_infra/access.py), and that is enough: the functions as deployed reach DynamoDB through
a proxy that refuses, as DynamoDB does, whatever their role does not allow
(tests/topology/dynamodb_iam.py). A refusal anywhere in the session fails the `deployed` fixture's
teardown too; here one run goes through every function that touches a table, and the PR watcher
makes a pass as its role."""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import uuid
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from tests.fakes.github_api import FakeGitHub

from .deployment import CREDENTIALS, WATCHER_ACCESS_KEY, Deployment, access_key_of
from .template import REGION
from .test_deployed import finished_run, standalone

pytestmark = pytest.mark.xdist_group("topology")


def client_of(deployed: Deployment, logical_id: str) -> Any:
    assert deployed.dynamodb is not None
    [function] = [f for f in deployed.template.functions() if f.logical_id == logical_id]
    return boto3.client("dynamodb", endpoint_url=deployed.dynamodb.url, region_name=REGION,
                        aws_access_key_id=access_key_of(function),
                        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])


def test_the_proxy_refuses_what_a_role_does_not_grant(deployed: Deployment) -> None:
    users = f"optio-{deployed.template.stage}-users"
    # Only the API's code names the users table (sign-in, invitations); the trigger tick's does not.
    assert client_of(deployed, "APIHandler").scan(TableName=users, Limit=1)["ResponseMetadata"]["HTTPStatusCode"] == 200
    for denied in ({"TableName": users}, {"TableName": users, "IndexName": "email-index"}):
        with pytest.raises(ClientError) as raised:
            client_of(deployed, "TriggerTick").scan(Limit=1, **denied)
        assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    assert deployed.dynamodb is not None
    assert {(d.action, d.resource.rsplit(":", 1)[1]) for d in deployed.dynamodb.denials} >= {
        ("dynamodb:Scan", f"table/{users}"), ("dynamodb:Scan", f"table/{users}/index/email-index")}
    deployed.dynamodb.denials.clear()  # the refusals asked for here, not the functions'


def test_the_functions_need_nothing_their_roles_do_not_grant(deployed: Deployment) -> None:
    assert deployed.dynamodb is not None
    path, secret = f"privilege-{uuid.uuid4().hex[:8]}", "hook-secret"
    standalone(deployed, "Summarise {{error}}", {"type": "webhook", "config": {
        "path": path, "secret": secret, "paramMapping": {"error": "$.error"}}})
    body = json.dumps({"error": "KeyError in billing"}).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    response = requests.post(f"{deployed.url}/api/hooks/{path}", data=body, timeout=30, headers={
        "Content-Type": "application/json", "X-Optio-Signature": f"sha256={signature}"})
    assert response.status_code == 202, response.text
    run = finished_run(deployed, response.json()["runId"])
    assert run["state"] == "completed", run
    assert deployed.dynamodb.denials == []
    functions = {f.logical_id: access_key_of(f) for f in deployed.template.functions()}
    # The API took the hook, the stream function launched the run and recorded its end, the
    # schedules (resync, ticket sync, trigger tick) ran meanwhile: each through the proxy's checks.
    for name in ("APIHandler", "ExecutionStream", "Resync", "TicketSync", "TriggerTick"):
        assert deployed.dynamodb.checked[functions[name]] > 0, name


def run_as_watcher(deployed: Deployment, access_key: str, script: str, *args: str) -> str:
    """Python with the watcher's settings (its Deployment's table prefix), signing with `access_key`."""
    assert deployed.dynamodb is not None
    env = {**os.environ, "OPTIO_TABLE_PREFIX": f"optio-{deployed.template.stage}-", "AWS_REGION": REGION,
           "OPTIO_DYNAMODB_ENDPOINT": deployed.dynamodb.url, "AWS_ACCESS_KEY_ID": access_key, **CREDENTIALS}
    done = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


def test_the_watcher_needs_nothing_its_role_does_not_grant(deployed: Deployment) -> None:
    """The PR watcher's pass as its pod runs it (IRSA: the watcher's role), over a pr_opened task."""
    assert deployed.dynamodb is not None
    github = FakeGitHub().start()
    try:
        github.add_repo("acme/watched")
        status, pr, _ = github.handle("POST", "/repos/acme/watched/pulls", {}, {
            "title": "T", "head": f"optio/w-{uuid.uuid4().hex[:6]}", "base": "main"}, f"token {github.token}")
        assert status == 201
        # The task, written by another caller (the proxy checks only the roles it knows).
        run_as_watcher(deployed, "ASIAPLANTING", PLANT, str(uuid.uuid4()), pr["html_url"], str(pr["number"]))
        answer = run_as_watcher(deployed, WATCHER_ACCESS_KEY, WATCH, github.token, github.url)
    finally:
        github.stop()
    assert "written=1" in answer and "errors=0" in answer, answer
    assert deployed.dynamodb.denials == []
    assert deployed.dynamodb.checked[WATCHER_ACCESS_KEY] > 0


PLANT = """
import sys
from datetime import UTC, datetime
from chalicelib.store import executions
task_id, url, number = sys.argv[1:]
executions.create({"id": task_id, "state": "pr_opened", "title": "t", "prompt": "p", "repoId": "r",
                   "repoUrl": "https://github.com/acme/watched", "repoBranch": "main", "branchName": "optio/w",
                   "agentType": "claude-code", "prUrl": url, "prNumber": int(number)}, datetime.now(UTC))
"""
WATCH = """
import sys
from chalicelib.forge.github import Forge
from chalicelib.forge.watcher import watch_once
print(watch_once(Forge.connect(sys.argv[1], base_url=sys.argv[2])))
"""
