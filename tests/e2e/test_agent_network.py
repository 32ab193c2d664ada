"""An agent's network in local mode: `environment.network: "none"` runs it in a network namespace
with loopback only, so it cannot reach even a server on this machine (here Optio's own API);
"internet" (not enforced locally) leaves it the machine's network."""
from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.localmode import LocalMode
from tests.support.waiting import wait_for

pytestmark = pytest.mark.xdist_group("e2e-agent-network")


def probe(local_mode: LocalMode, tmp_path: Path, network: Any) -> dict[str, Any]:
    api = local_mode.api
    seen = tmp_path / f"net-{uuid.uuid4().hex[:8]}.json"
    server = urlsplit(local_mode.url)
    job = api.ok("POST", "/api/tasks", {
        "type": "standalone", "name": f"net-{uuid.uuid4().hex[:8]}", "environment": {"network": network},
        "promptTemplate": f"[fake:net={seen}] [fake:reach={server.hostname}:{server.port}] [fake:noop] probe"},
        status=201)
    run_id = api.ok("POST", f"/api/tasks/{job['id']}/runs", {}, status=202)["runId"]
    run = wait_for(lambda: (r := api.ok("GET", f"/api/workflow-runs/{run_id}"))["state"] in ("completed", "failed")
                   and r, timeout_s=120, what=f"run {run_id}")
    assert run["state"] == "completed", run
    return wait_for(lambda: seen.exists() and json.loads(seen.read_text()), what="the agent's network probe")


def test_an_agent_without_network_sees_loopback_only(local_mode: LocalMode, tmp_path: Path) -> None:
    offline = probe(local_mode, tmp_path, "none")
    assert offline["interfaces"] == ["lo"]
    assert offline["reach"].startswith("failed"), offline

    # The same probe with the network left on reaches the server: the refusal above is the namespace's.
    assert probe(local_mode, tmp_path, "internet")["reach"] == "connected"


@pytest.mark.parametrize("network,field", [
    ("offline", "environment.network"),
    ({"allow": []}, "environment.network"),
    ({"allow": ["api.github.com", "10.0.0.0/33"]}, "environment.network.allow.1"),
    ({"allow": ["not a host"]}, "environment.network.allow.0"),
])
def test_a_bad_network_is_refused_naming_the_field(local_mode: LocalMode, network: Any, field: str) -> None:
    response = local_mode.api.request("POST", "/api/tasks", json={
        "type": "standalone", "name": "n", "promptTemplate": "p", "environment": {"network": network}})
    assert response.status_code == 400, response.text
    assert field in [d["field"] for d in response.json()["details"]], response.text
