"""Each pinned agent CLI reads the MCP configuration its adapter writes for the attempt's
connections: the CLI's own `mcp` commands, run with the adapter's HOME and variables, list the
servers as given, and those that check them start the real stdio MCP server (tests/fakes/
mcp_server.py, on the official SDK). Claude Code's `--mcp-config` is proven by a whole run
(test_mcp_connections.py): its `mcp list` does not read that flag.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from optio_runner.agents import create_adapter
from optio_runner.agents.base import AgentContext
from optio_runner.connections import McpServer

from tests.agents.conftest import TASK_TIMEOUT_S, cli_path
from tests.agents.test_mcp_connections import mcp_python
from tests.fakes import mcp_server

# Nothing listens there: an http server is listed as configured, never reached.
UNREACHABLE = "http://127.0.0.1:9/mcp"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def servers() -> tuple[McpServer, ...]:
    return (McpServer("wiki", command=str(mcp_python()), args=(str(Path(mcp_server.__file__).resolve()),),
                      env={"WIKI_API_TOKEN": "token"}),
            McpServer("crm", url=UNREACHABLE, headers={"Authorization": "Bearer crm-token"}))


def cli_mcp(agent_type: str, binary: str, tmp_path: Path, *argv: str, **env: str) -> str:
    """The CLI's `mcp ...` output, run as the runner runs the agent: its HOME, files and variables."""
    path = cli_path(binary)
    adapter = create_adapter(agent_type)
    assert adapter is not None
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir(parents=True)
    ctx = AgentContext(prompt="p", max_turns=5, model=None, resume_session_id=None, binary=str(path),
                       custom_command=None, home=home, work_dir=work, mcp_servers=servers())
    adapter.build_command(ctx)
    for relative, text in adapter.config_files(ctx).items():
        (home / relative).parent.mkdir(parents=True, exist_ok=True)
        (home / relative).write_text(text)
    full_env = {"PATH": os.environ["PATH"], "HOME": str(home), **adapter.environment(ctx), **env}
    ran = subprocess.run([str(path), "mcp", *argv], cwd=work, env=full_env, stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=TASK_TIMEOUT_S)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    # Gemini CLI lists on stderr; Codex warns there.
    return _ANSI.sub("", ran.stderr if agent_type == "gemini" else ran.stdout)


@pytest.mark.xdist_group("agents-codex")
def test_codex_reads_its_mcp_servers(tmp_path: Path) -> None:
    wiki = json.loads(cli_mcp("codex", "codex", tmp_path, "get", "wiki", "--json"))["transport"]
    assert (wiki["type"], wiki["command"], wiki["env"]) == ("stdio", str(mcp_python()), {"WIKI_API_TOKEN": "token"})
    crm = json.loads(cli_mcp("codex", "codex", tmp_path / "again", "get", "crm", "--json"))["transport"]
    assert (crm["type"], crm["url"], crm["http_headers"]) == (
        "streamable_http", UNREACHABLE, {"Authorization": "Bearer crm-token"})


@pytest.mark.xdist_group("agents-gemini")
def test_gemini_reads_and_starts_its_mcp_servers(tmp_path: Path) -> None:
    # The trust the adapter's --skip-trust gives a headless run (the CLI sets this variable for it).
    listed = cli_mcp("gemini", "gemini", tmp_path, "list", GEMINI_CLI_TRUST_WORKSPACE="true")
    assert re.search(r"wiki: .*mcp_server\.py \(stdio\) - Connected", listed), listed
    assert f"crm: {UNREACHABLE} (http)" in listed


@pytest.mark.xdist_group("agents-opencode")
def test_opencode_reads_and_starts_its_mcp_servers(tmp_path: Path) -> None:
    listed = cli_mcp("opencode", "opencode", tmp_path, "list")
    assert re.search(r"✓ wiki\s+connected", listed), listed
    assert "crm" in listed and UNREACHABLE in listed


@pytest.mark.xdist_group("agents-copilot")
def test_copilot_reads_its_mcp_servers(tmp_path: Path) -> None:
    listed = cli_mcp("copilot", "copilot", tmp_path, "list")
    assert "wiki (local)" in listed and "crm (http)" in listed, listed
