"""Connections end to end: the real Claude Code and Gemini CLIs at the pinned versions, in local
mode, given a real MCP server (tests/fakes/mcp_server.py, on the official MCP SDK) through a
connection. The scripted model calls the server's tool (Claude Code's `mcp__<connection>__<tool>`,
Gemini's `mcp_<connection>_<tool>`); the server answers; the answer reaches the run's log. The
connection's secret reaches the server (it says so, by hash), and never the log.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agents.conftest import TASK_TIMEOUT_S, AgentSystem, start_agent_system
from tests.agents.test_claude_code import KEY, MODEL
from tests.conftest import REPO_ROOT
from tests.fakes import mcp_server
from tests.fakes.anthropic_api import anthropic_stand_in, conversation
from tests.fakes.scripted_vendor import Reply, ToolCall
from tests.support.waiting import wait_for

pytestmark = pytest.mark.xdist_group("agents-mcp")

# `make mcp`: the MCP SDK in a venv of its own.
MCP_PYTHON = REPO_ROOT / ".deps" / "mcp" / "bin" / "python"
TOKEN = "wiki-token-for-the-server-only"
GEMINI_KEY = "gemini-test-key"
TOOL = f"mcp__{mcp_server.SERVER_NAME}__{mcp_server.TOOL_NAME}"


def mcp_python() -> Path:
    if not MCP_PYTHON.exists():
        problem = f"{MCP_PYTHON} is not installed (make mcp installs the MCP SDK; make test does too)"
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    return MCP_PYTHON


@pytest.fixture(scope="module")
def system(agent_tmp: Path) -> Iterator[AgentSystem]:
    mcp_python()
    started = start_agent_system(agent_tmp, "claude-code", "claude")
    try:
        yield started
    finally:
        started.mode.stop()


def wiki_connection(system: AgentSystem) -> dict[str, Any]:
    system.set_secret("WIKI_TOKEN", TOKEN)
    body = {"name": mcp_server.SERVER_NAME, "kind": "stdio", "command": str(mcp_python()),
            "args": [str(Path(mcp_server.__file__).resolve()),
                     "--expect-token-sha256", hashlib.sha256(TOKEN.encode()).hexdigest()],
            "env": {"WIKI_API_TOKEN": "WIKI_TOKEN"}, "description": "the team wiki"}
    made: dict[str, Any] = system.api.ok("POST", "/api/connections", body, status=201)
    return made


def finished_run(system: AgentSystem, run_id: str) -> dict[str, Any] | None:
    run: dict[str, Any] = system.api.ok("GET", f"/api/workflow-runs/{run_id}")
    return run if run["state"] in ("completed", "failed") else None


def test_a_standalone_runs_agent_calls_its_connections_tool_and_the_answer_is_logged(system: AgentSystem) -> None:
    connection = wiki_connection(system)
    assert connection["secrets"] == ["WIKI_TOKEN"]
    script = [Reply(text="Let me ask the wiki.", tool_calls=(ToolCall(TOOL, {"topic": "billing"}),)),
              Reply(text="Billing is owned by team Orbit.")]
    stand_in = anthropic_stand_in(script, api_key=KEY).start()
    system.set_secret("ANTHROPIC_BASE_URL", stand_in.url)
    system.set_secret("ANTHROPIC_API_KEY", KEY)
    try:
        job = system.api.ok("POST", "/api/tasks", {
            "type": "standalone", "name": "who-owns-billing", "promptTemplate": "Who owns billing? Ask the wiki.",
            "agentRuntime": "claude-code", "model": MODEL, "maxRetries": 0,
            "environment": {"secrets": ["ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY"],
                            "connections": [connection["name"]]}}, status=201)
        run_id = system.api.ok("POST", f"/api/tasks/{job['id']}/runs", {}, status=202)["runId"]
        run = wait_for(lambda: finished_run(system, run_id), TASK_TIMEOUT_S, what=f"run {run_id} to finish")
    finally:
        stand_in.stop()

    logs = system.api.ok("GET", f"/api/workflow-runs/{run_id}/logs")["items"]
    by_type = {kind: [line["content"] for line in logs if line["type"] == kind] for kind in ("tool_use", "tool_result")}
    assert run["state"] == "completed", (run.get("errorMessage"), [line["content"] for line in logs][-15:])
    # The CLI offered the model the server's tool, called it, and the server's answer (which
    # knows the secret reached it) is in the log.
    # (This CLI defers MCP tools behind its ToolSearch: it names them to the model in the request.)
    assert TOOL in json.dumps(conversation(stand_in)[0].body)
    assert by_type["tool_use"] == [f'{TOOL}: {{"topic":"billing"}}']
    # The SDK answers with structured content too, which the CLI passes on as the tool's result.
    assert [json.loads(text) for text in by_type["tool_result"]] == [
        {"result": "wiki: billing is owned by team Orbit (signed in)"}]
    assert [line["content"] for line in logs if line["type"] == "text"][-1] == "Billing is owned by team Orbit."
    assert TOKEN not in repr(logs) and TOKEN not in repr(run)
    # Nor on disk once the attempt is over: its workspace (with the agent's MCP configuration) is
    # gone, and what stays (runner logs, saved sessions, the store) never held the value.
    work = system.mode.data_dir / "work"
    wait_for(lambda: not [path for path in work.glob(f"{run_id}-*") if path.is_dir()], TASK_TIMEOUT_S,
             what="the run's workspace to be removed")
    kept = [path for path in system.mode.data_dir.rglob("*") if path.is_file() and TOKEN.encode() in path.read_bytes()]
    assert kept == []
    contents = [line["content"] for line in logs]
    assert f"connections (MCP servers) for the agent: {connection['name']}" in contents
    # The CLI started it (and, --strict-mcp-config, no other).
    assert any(line.endswith(f"; MCP servers: {connection['name']} (connected)") for line in contents), contents


def test_a_connection_in_use_is_not_deleted(system: AgentSystem) -> None:
    gone = system.api.request("DELETE", f"/api/connections/{mcp_server.SERVER_NAME}")
    assert gone.status_code == 409, gone.text
    assert gone.json()["usedBy"] and "who-owns-billing" in gone.json()["usedBy"][0]


@pytest.fixture(scope="module")
def gemini_system(agent_tmp: Path) -> Iterator[AgentSystem]:
    mcp_python()
    home = agent_tmp / "gemini"
    home.mkdir()
    started = start_agent_system(home, "gemini", "gemini")
    try:
        yield started
    finally:
        started.mode.stop()


def test_gemini_calls_its_connections_tool_too(gemini_system: AgentSystem) -> None:
    from tests.fakes.gemini_api import gemini_stand_in

    system = gemini_system
    connection = wiki_connection(system)
    # Gemini CLI names an MCP server's tool mcp_<server>_<tool>.
    tool = f"mcp_{mcp_server.SERVER_NAME}_{mcp_server.TOOL_NAME}"
    stand_in = gemini_stand_in([Reply(tool_calls=(ToolCall(tool, {"topic": "search"}),)),
                                Reply(text="Search is owned by team Lumen.")], api_key=GEMINI_KEY).start()
    system.set_secret("GEMINI_API_KEY", GEMINI_KEY)
    system.set_secret("GOOGLE_GEMINI_BASE_URL", stand_in.url)
    try:
        job = system.api.ok("POST", "/api/tasks", {
            "type": "standalone", "name": "who-owns-search", "promptTemplate": "Who owns search? Ask the wiki.",
            "agentRuntime": "gemini", "maxRetries": 0,
            "environment": {"secrets": ["GEMINI_API_KEY", "GOOGLE_GEMINI_BASE_URL"],
                            "connections": [connection["name"]]}}, status=201)
        run_id = system.api.ok("POST", f"/api/tasks/{job['id']}/runs", {}, status=202)["runId"]
        run = wait_for(lambda: finished_run(system, run_id), TASK_TIMEOUT_S, what=f"run {run_id} to finish")
    finally:
        stand_in.stop()

    logs = [(line["type"], line["content"]) for line in system.api.ok("GET", f"/api/workflow-runs/{run_id}/logs")["items"]]
    assert run["state"] == "completed", (run.get("errorMessage"), logs[-15:])
    results = [content for kind, content in logs if kind == "tool_result"]
    assert len(results) == 1 and "wiki: search is owned by team Lumen (signed in)" in results[0], logs
    assert TOKEN not in repr(logs)
