"""Optio as the template deploys it (tests/topology/deployment.py): the functions with the
template's handlers and environments, AWS's event shapes, the Kubernetes stand-in running the
real runner for each Job. What a user does on AWS works here, at the stage URL `make deploy`
prints; the defects of issue 15 found in the deployed template each have a test here (A1, A2, A3)."""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import requests
from playwright.sync_api import Browser, expect

from tests.conftest import REPO_ROOT
from tests.support.api import Api
from tests.support.browser import chromium
from tests.support.gitrepo import make_bare_repo
from tests.support.waiting import wait_for

from .deployment import Deployment

pytestmark = pytest.mark.xdist_group("topology")

README = (REPO_ROOT / "README.md").read_text()


def api(deployed: Deployment) -> Api:
    return Api(deployed.url, deployed.token)


def tour() -> str:
    section = README.split("<!-- tour:start -->", 1)[1].split("<!-- tour:end -->", 1)[0]
    return "\n".join(re.findall(r"```sh\n(.*?)```", section, flags=re.S))


def job_environment(deployed: Deployment, task_id: str) -> dict[str, str]:
    """The environment of the task's (first) Job, as the launcher sent it to the cluster."""
    assert deployed.cluster is not None
    job = next(r.body for r in deployed.cluster.made("POST", "/jobs$")
               if r.body and task_id in r.body["metadata"]["name"])
    return {e["name"]: e.get("value", "") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}


def github_repo(deployed: Deployment) -> str:
    """A repository on "GitHub" that the pods reach (tests/topology/deployment.py `remotes`)."""
    owner, name = "acme", f"web{uuid.uuid4().hex[:6]}"
    (deployed.remotes / owner).mkdir(parents=True, exist_ok=True)
    make_bare_repo(deployed.remotes / owner, name)
    return f"https://github.com/{owner}/{name}"


def test_the_readme_tour_completes_at_the_stage_url(deployed: Deployment, tmp_path: Any) -> None:
    # On AWS a repository is a URL, never a path on the API's machine: the tour's repository is
    # registered as the GitHub URL the pods reach it by; everything else runs as written.
    demo = tmp_path / "demo"
    (deployed.remotes / "optio-demo").mkdir(parents=True, exist_ok=True)
    (deployed.remotes / "optio-demo" / "demo").symlink_to(f"{demo}.git")
    script = tour().replace('\\"repoUrl\\": \\"$DEMO.git\\"', '\\"repoUrl\\": \\"https://github.com/optio-demo/demo\\"')
    assert script != tour(), "the tour no longer registers $DEMO.git"
    result = subprocess.run(["bash", "-c", "set -euo pipefail\n" + script], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=240,
                            env={**os.environ, "OPTIO": deployed.url, "TOKEN": deployed.token, "DEMO": str(demo)})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "\ncompleted\n" in result.stdout
    assert "optio: Add a greeting" in result.stdout


def standalone(deployed: Deployment, prompt: str, trigger: dict[str, Any]) -> str:
    client = api(deployed)
    config = client.ok("POST", "/api/tasks", {"type": "standalone", "name": f"topology {uuid.uuid4().hex[:6]}",
                                              "agentRuntime": "claude-code", "promptTemplate": prompt,
                                              "maxRetries": 0}, status=201)
    client.ok("POST", f"/api/tasks/{config['id']}/triggers", trigger, status=201)
    return str(config["id"])


def finished_run(deployed: Deployment, run_id: str) -> dict[str, Any]:
    client = api(deployed)

    def finished() -> dict[str, Any] | None:
        run: dict[str, Any] = client.ok("GET", f"/api/workflow-runs/{run_id}")
        return run if run["state"] in ("completed", "failed") else None

    return wait_for(finished, timeout_s=90, interval_s=0.5, what=f"run {run_id} to finish")


def test_a_signed_webhook_fires_a_standalone_run_that_completes(deployed: Deployment) -> None:
    """A1: the run is launched by the API function, which has no OPTIO_API_URL in the template
    (a cycle through the RestApi): its runner must still be told the stage URL."""
    path, secret = f"topology-{uuid.uuid4().hex[:8]}", "hook-secret"
    standalone(deployed, "Summarise {{error}}", {"type": "webhook", "config": {
        "path": path, "secret": secret, "paramMapping": {"error": "$.error"}}})
    body = json.dumps({"error": "TypeError in checkout"}).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    response = requests.post(f"{deployed.url}/api/hooks/{path}", data=body, timeout=30, headers={
        "Content-Type": "application/json", "X-Optio-Signature": f"sha256={signature}"})
    assert response.status_code == 202, response.text
    run_id = response.json()["runId"]
    run = finished_run(deployed, run_id)
    assert job_environment(deployed, run_id)["OPTIO_API_URL"] == deployed.url
    assert run["state"] == "completed", run
    assert run["prompt"] == "Summarise TypeError in checkout"


def test_a_cron_trigger_fires_through_the_scheduled_function(deployed: Deployment) -> None:
    config_id = standalone(deployed, "[fake:noop] scheduled check", {
        "type": "schedule", "config": {"cronExpression": "* * * * *"}})
    client = api(deployed)
    [trigger] = client.ok("GET", f"/api/tasks/{config_id}/triggers")["items"]
    # Its next fire time, come: trigger_tick (EventBridge's rule) is what must fire it.
    due = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    dynamodb = boto3.client("dynamodb", endpoint_url=deployed.dynamodb_endpoint, region_name="us-east-1")
    dynamodb.update_item(TableName="optio-dev-triggers", Key={"id": {"S": trigger["id"]}},
                         UpdateExpression="SET nextFireAt = :due", ExpressionAttributeValues={":due": {"S": due}})
    runs = wait_for(lambda: client.ok("GET", f"/api/tasks/{config_id}/runs")["items"], timeout_s=30,
                    interval_s=0.5, what="the schedule to fire")
    assert finished_run(deployed, runs[0]["id"])["state"] == "completed"
    [fired] = client.ok("GET", f"/api/tasks/{config_id}/triggers")["items"]
    assert fired["lastFiredAt"] is not None and fired["nextFireAt"] > due
    assert deployed.errors == []  # no scheduled invocation of any function failed so far


def test_cancel_stops_the_running_agent(deployed: Deployment) -> None:
    client = api(deployed)
    task = client.ok("POST", "/api/tasks", {"title": "Long work", "prompt": "[fake:sleep=120] keep busy",
                                            "repoUrl": github_repo(deployed)}, status=201)
    wait_for(lambda: client.ok("GET", f"/api/tasks/{task['id']}")["state"] == "running", timeout_s=90,
             interval_s=0.5, what="the agent to run")
    assert deployed.cluster is not None
    [(key, process)] = [(k, p) for k, p in deployed.cluster.processes.items() if task["id"] in k[1]]
    assert process.poll() is None
    client.ok("POST", f"/api/tasks/{task['id']}/cancel")
    wait_for(lambda: process.poll() is not None, timeout_s=30, what="the runner's pod to stop")
    assert key not in deployed.cluster.jobs
    assert client.ok("GET", f"/api/tasks/{task['id']}")["state"] == "cancelled"


def test_a_run_waits_for_its_launch_while_the_launcher_has_not_run_yet(deployed: Deployment) -> None:
    """A3: between the engine's asynchronous invoke and the launcher creating the Job, the cluster
    knows no Job for a standalone run; that must read as "launching", not "the agent vanished",
    however long the invocation waits in Lambda's queue."""
    client = api(deployed)
    config_id = standalone(deployed, "[fake:noop] queued launch", {
        "type": "webhook", "config": {"path": f"topology-{uuid.uuid4().hex[:8]}"}})
    launcher, resync = deployed.functions["Launcher"], deployed.functions["Resync"]
    assert deployed.lambda_api is not None
    queue = deployed.lambda_api.queue(launcher.name)
    queue.clear()
    try:
        run_id = client.ok("POST", f"/api/tasks/{config_id}/runs", {}, status=202)["runId"]
        wait_for(lambda: client.ok("GET", f"/api/workflow-runs/{run_id}")["launchedAt"], timeout_s=30,
                 what="the run's launch to be requested")
        # Two resyncs look at the run while its launch waits in the queue.
        seen = resync.invocations
        wait_for(lambda: resync.invocations >= seen + 2, timeout_s=30, what="two resyncs")
        waiting = client.ok("GET", f"/api/workflow-runs/{run_id}")
        assert waiting["state"] == "running" and waiting["errorKind"] is None, waiting
    finally:
        queue.set()
    assert finished_run(deployed, run_id)["state"] == "completed"


def test_a_launch_lambda_gives_up_on_fails_its_attempt_at_once(deployed: Deployment) -> None:
    """17.5: the launcher's events are kept at most 4 minutes (the template's EventInvokeConfig);
    one that ages out in Lambda's queue goes to the launcher's on-failure destination, the timer
    function, as Lambda's invocation record, and the attempt fails then as `launch_failed` (not
    when the launch grace ends, as a pod gone), and no agent is ever started for it."""
    lambdas, launcher = deployed.lambda_api, deployed.functions["Launcher"]
    assert lambdas is not None and deployed.cluster is not None
    config = lambdas.configs[launcher.name]
    assert config["MaximumEventAgeInSeconds"] == 240
    assert config["DestinationConfig"]["OnFailure"]["Destination"].endswith(
        f":function:{deployed.functions['ExecutionTimer'].name}")
    client = api(deployed)
    config_id = standalone(deployed, "[fake:noop] never launched", {
        "type": "webhook", "config": {"path": f"topology-{uuid.uuid4().hex[:8]}"}})
    queue = lambdas.queue(launcher.name)
    queue.clear()
    try:
        run_id = client.ok("POST", f"/api/tasks/{config_id}/runs", {}, status=202)["runId"]
        wait_for(lambda: client.ok("GET", f"/api/workflow-runs/{run_id}")["launchedAt"], timeout_s=30,
                 what="the run's launch to be requested")
        # Lambda's clock moves past the event's maximum age while it waits in the queue.
        lambdas.clock = lambda: time.time() + config["MaximumEventAgeInSeconds"] + 1
        queue.set()
        run = finished_run(deployed, run_id)
    finally:
        queue.set()
        lambdas.clock = time.time
    assert run["state"] == "failed" and run["errorKind"] == "launch_failed", run
    assert "maximum age" in run["errorMessage"], run
    assert not [r for r in deployed.cluster.made("POST", "/jobs$") if r.body and run_id in r.body["metadata"]["name"]]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.mark.parametrize("where", ["stage URL", "custom domain"])
def test_the_dashboard_signs_in_and_lists_tasks(deployed: Deployment, browser: Browser, where: str) -> None:
    """A2: at the URL `make deploy` prints (the stage in the path) and on a custom domain (the
    stage stripped), the page loads its scripts, calls the API and follows its links there."""
    assert deployed.custom_domain is not None
    base = deployed.url if where == "stage URL" else deployed.custom_domain.url
    title = f"Listed at the {where} {uuid.uuid4().hex[:6]}"
    api(deployed).ok("POST", "/api/tasks", {"title": title, "prompt": "[fake:noop] nothing",
                                            "repoUrl": github_repo(deployed)}, status=201)
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(base + "/")
        page.get_by_label("Token").fill(deployed.token)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Tasks", exact=True).click()
        expect(page).to_have_url(base + "/tasks")
        expect(page.get_by_role("link", name=title)).to_be_visible()
        page.get_by_role("link", name=title).click()
        expect(page.get_by_role("heading", name=title)).to_be_visible()
        # A reload of a page deep in the app is served by the API there too.
        page.reload()
        expect(page.get_by_role("heading", name=title)).to_be_visible()
        assert page.url.startswith(base + "/tasks/")
    finally:
        context.close()
    assert not errors, errors


def test_stored_secrets_reach_the_agent_through_a_secret_of_its_own_job(deployed: Deployment) -> None:
    """A4: the secrets stored through /api/secrets (as the README says to) reach the agent, from a
    Kubernetes Secret the launcher writes for the attempt and its Job owns; no pod refers to a key
    of a Secret that users would have to fill a second time."""
    client = api(deployed)
    stored = {"ANTHROPIC_API_KEY": "sk-ant-topology", "LINEAR_API_KEY": "lin_api_topology",
              "GITHUB_WEBHOOK_SECRET": "whsec-topology"}
    for name, value in stored.items():
        assert client.request("PUT", f"/api/secrets/{name}", json={"value": value}).status_code in (200, 201)
    try:
        repo = github_repo(deployed)
        task = client.ok("POST", "/api/tasks", {"title": "Show the environment", "repoUrl": repo,
                                                "prompt": "[fake:env=AGENT_ENV.json] show the environment"},
                         status=201)
        done = client.wait_state(task["id"], {"completed", "failed", "needs_attention"}, timeout_s=90)
        assert done["state"] == "completed", done
        bare = deployed.remotes / repo.removeprefix("https://github.com/")
        agent_env = json.loads(subprocess.run(["git", "show", f"{done['branchName']}:AGENT_ENV.json"], cwd=bare,
                                              check=True, capture_output=True, text=True).stdout)
        assert agent_env["ANTHROPIC_API_KEY"] == "sk-ant-topology"
        assert "GITHUB_WEBHOOK_SECRET" not in agent_env  # Optio's own, never an agent's
        assert deployed.cluster is not None
        # The first request for it: a launch delivered twice (the stream's and the resync's) asks again.
        job = next(r.body for r in deployed.cluster.made("POST", "/jobs$")
                   if r.body and task["id"] in r.body["metadata"]["name"])
        name = job["metadata"]["name"]
        container = job["spec"]["template"]["spec"]["containers"][0]
        refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
        assert refs["ANTHROPIC_API_KEY"] == {"name": name, "key": "ANTHROPIC_API_KEY"}
        assert {ref["name"] for ref in refs.values()} == {name} and "envFrom" not in container
        secret = next(r.body for r in deployed.cluster.made("POST", "/secrets$")
                      if r.body and r.body["metadata"]["name"] == name)
        assert set(secret["data"]) == {"ANTHROPIC_API_KEY", "LINEAR_API_KEY"}
        written, owner = deployed.cluster.secret(name), deployed.cluster.job(name)
        assert written is not None and owner is not None
        assert written["metadata"]["ownerReferences"] == [{
            "apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": owner["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}]
    finally:
        for name in stored:
            client.request("DELETE", f"/api/secrets/{name}")


def test_a_run_is_adopted_by_a_warm_pod_the_resync_started(deployed: Deployment) -> None:
    """Warm pools as deployed: the Resync function asks the launcher Lambda for the pool's pod, the
    pod's runner asks the stage URL for work with its pool's token, and the run's agent starts in it."""
    assert deployed.cluster is not None
    client = api(deployed)
    config = client.ok("POST", "/api/tasks", {"type": "standalone", "name": f"warm {uuid.uuid4().hex[:6]}",
                                              "agentRuntime": "claude-code", "promptTemplate": "[fake:noop] warm",
                                              "maxRetries": 0, "warmPoolSize": 1}, status=201)

    def warm_jobs() -> list[str]:
        assert deployed.cluster is not None
        return [str(r.body["metadata"]["name"]) for r in deployed.cluster.made("POST", "/jobs$")
                if r.body and r.body["metadata"]["name"].startswith("optio-warm-")]

    [warm] = wait_for(lambda: warm_jobs() or None, timeout_s=60, what="the resync to start a warm pod")
    run_id = client.ok("POST", f"/api/tasks/{config['id']}/runs", {}, status=202)["runId"]
    run = finished_run(deployed, run_id)
    assert run["state"] == "completed", run
    assert warm == f"optio-warm-{run['warmPod']}"
    assert not [r for r in deployed.cluster.made("POST", "/jobs$") if r.body and run_id in r.body["metadata"]["name"]]
    client.ok("PATCH", f"/api/tasks/{config['id']}", {"warmPoolSize": 0})
