"""The attempt's connections in each agent CLI's own MCP configuration: OPTIO_CONNECTIONS read,
secrets resolved from the agent's environment, the files each adapter writes (in the shapes each
pinned CLI's own `mcp add` writes; tests/agents/test_mcp_configs.py has the CLIs read them)."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from optio_runner.agents import create_adapter
from optio_runner.agents.base import AgentContext
from optio_runner.config import ConfigError, load_config
from optio_runner.connections import McpServer, UnresolvedConnection, parse_connections, resolve

from tests.runner.test_runner_config import REQUIRED

# The end-to-end harness: a runner process against a loopback API, with the claude stand-in.
from tests.runner.test_runner_end_to_end import Harness, collector, origin  # noqa: F401  (its fixtures)

CONNECTIONS = [
    {"name": "wiki", "kind": "stdio", "command": "wiki-mcp", "args": ["--read-only"],
     "env": {"WIKI_API_TOKEN": "WIKI_TOKEN"}},
    {"name": "crm", "kind": "http", "url": "https://crm.example.com/mcp",
     "headers": {"Authorization": "Bearer ${CRM_TOKEN}", "X-Team": "ops"}},
]
SECRETS = {"WIKI_TOKEN": "wiki-secret", "CRM_TOKEN": "crm-secret", "OTHER": "not-for-mcp"}


def servers() -> tuple[McpServer, ...]:
    return resolve(CONNECTIONS, SECRETS)


def context(home: Path) -> AgentContext:
    return AgentContext(prompt="Use the wiki", max_turns=12, model=None, resume_session_id=None,
                        binary="/opt/agent", custom_command=None, home=home, work_dir=home / "work",
                        mcp_servers=servers())


def test_secrets_are_resolved_by_name() -> None:
    wiki, crm = servers()
    assert (wiki.command, wiki.args, dict(wiki.env)) == ("wiki-mcp", ("--read-only",), {"WIKI_API_TOKEN": "wiki-secret"})
    assert (crm.url, dict(crm.headers)) == ("https://crm.example.com/mcp",
                                            {"Authorization": "Bearer crm-secret", "X-Team": "ops"})
    with pytest.raises(UnresolvedConnection, match="connection crm: its headers.Authorization names the secret CRM_TOKEN"):
        resolve(CONNECTIONS, {"WIKI_TOKEN": "w"})


def test_the_runner_reads_its_connections() -> None:
    cfg = load_config({**REQUIRED, "OPTIO_CONNECTIONS": json.dumps(CONNECTIONS)})
    assert [c["name"] for c in cfg.connections] == ["wiki", "crm"]
    assert load_config(REQUIRED).connections == ()
    with pytest.raises(ConfigError, match="OPTIO_CONNECTIONS"):
        load_config({**REQUIRED, "OPTIO_CONNECTIONS": '{"name": "x"}'})
    assert parse_connections(" ") == ()


def test_claude_code_gets_an_mcp_config_and_only_it(tmp_path: Path) -> None:
    adapter = create_adapter("claude-code")
    assert adapter is not None
    ctx = context(tmp_path)
    argv = adapter.build_command(ctx)
    path = argv[argv.index("--mcp-config") + 1]
    assert "--strict-mcp-config" in argv
    files = adapter.config_files(ctx)
    assert str(tmp_path / next(iter(files))) == path
    assert json.loads(next(iter(files.values()))) == {"mcpServers": {
        "wiki": {"type": "stdio", "command": "wiki-mcp", "args": ["--read-only"], "env": {"WIKI_API_TOKEN": "wiki-secret"}},
        "crm": {"type": "http", "url": "https://crm.example.com/mcp",
                "headers": {"Authorization": "Bearer crm-secret", "X-Team": "ops"}}}}
    bare = AgentContext(prompt="p", max_turns=1, model=None, resume_session_id=None, binary="claude",
                        custom_command=None, home=tmp_path)
    assert "--mcp-config" not in adapter.build_command(bare) and adapter.config_files(bare) == {}


def test_codex_gets_mcp_servers_tables(tmp_path: Path) -> None:
    adapter = create_adapter("codex")
    assert adapter is not None
    config = tomllib.loads(adapter.config_files(context(tmp_path))[".codex/config.toml"])
    assert config["mcp_servers"] == {
        "wiki": {"command": "wiki-mcp", "args": ["--read-only"], "env": {"WIKI_API_TOKEN": "wiki-secret"}},
        "crm": {"url": "https://crm.example.com/mcp",
                "http_headers": {"Authorization": "Bearer crm-secret", "X-Team": "ops"}}}
    # The adapter's own settings stay top-level, before the tables.
    assert config["check_for_update_on_startup"] is False and config["analytics"] == {"enabled": False}


def test_gemini_gets_mcp_servers_in_its_settings(tmp_path: Path) -> None:
    adapter = create_adapter("gemini")
    assert adapter is not None
    settings = json.loads(adapter.config_files(context(tmp_path))[".gemini/settings.json"])
    assert settings["mcpServers"] == {
        "wiki": {"command": "wiki-mcp", "args": ["--read-only"], "env": {"WIKI_API_TOKEN": "wiki-secret"}},
        "crm": {"type": "http", "url": "https://crm.example.com/mcp",
                "headers": {"Authorization": "Bearer crm-secret", "X-Team": "ops"}}}


def test_opencode_gets_mcp_in_its_config(tmp_path: Path) -> None:
    adapter = create_adapter("opencode")
    assert adapter is not None
    ctx = context(tmp_path)
    adapter.build_command(ctx)
    (text,) = adapter.config_files(ctx).values()
    assert json.loads(text)["mcp"] == {
        "wiki": {"type": "local", "command": ["wiki-mcp", "--read-only"],
                 "environment": {"WIKI_API_TOKEN": "wiki-secret"}, "enabled": True},
        "crm": {"type": "remote", "url": "https://crm.example.com/mcp",
                "headers": {"Authorization": "Bearer crm-secret", "X-Team": "ops"}, "enabled": True}}


def test_copilot_gets_its_mcp_config(tmp_path: Path) -> None:
    adapter = create_adapter("copilot")
    assert adapter is not None
    config = json.loads(adapter.config_files(context(tmp_path))[".copilot/mcp-config.json"])
    assert config == {"mcpServers": {
        "wiki": {"type": "local", "command": "wiki-mcp", "args": ["--read-only"],
                 "env": {"WIKI_API_TOKEN": "wiki-secret"}, "tools": ["*"]},
        "crm": {"type": "http", "url": "https://crm.example.com/mcp",
                "headers": {"Authorization": "Bearer crm-secret", "X-Team": "ops"}, "tools": ["*"]}}}
    assert adapter.environment(context(tmp_path))["COPILOT_HOME"] == str(tmp_path / ".copilot")


def test_claude_codes_log_says_how_its_mcp_servers_started() -> None:
    adapter = create_adapter("claude-code")
    assert adapter is not None
    init = {"type": "system", "subtype": "init", "session_id": "s1", "model": "claude-sonnet-4-5", "tools": [],
            "mcp_servers": [{"name": "wiki", "status": "connected"}, {"name": "crm", "status": "failed"}]}
    (line,) = adapter.parse_line(json.dumps(init)).logs
    assert line.content.endswith("; MCP servers: wiki (connected), crm (failed)")


@pytest.fixture
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    return Harness(tmp_path, request.getfixturevalue("collector"), request.getfixturevalue("origin"),
                   tmp_path / "agent-launches.jsonl")


def test_the_runner_gives_the_agent_its_connections(harness: Harness) -> None:
    assert harness.run("[fake:noop] use the wiki", OPTIO_CONNECTIONS=json.dumps(CONNECTIONS), **SECRETS).returncode == 0

    assert harness.collector.result()["result"] == "success"
    (launch,) = harness.launches()
    argv = launch["argv"]
    assert argv[argv.index("--mcp-config") + 2] == "--strict-mcp-config"
    contents = [line["content"] for line in harness.collector.log_lines()]
    assert "connections (MCP servers) for the agent: wiki, crm" in contents
    assert any(c.endswith("; MCP servers: wiki (connected), crm (connected)") for c in contents), contents
    assert not [c for c in contents if "wiki-secret" in c or "crm-secret" in c]


def test_a_connection_whose_secret_is_missing_fails_the_attempt_before_the_agent(harness: Harness) -> None:
    assert harness.run("[fake:noop] use the wiki", OPTIO_CONNECTIONS=json.dumps(CONNECTIONS),
                       WIKI_TOKEN="wiki-secret").returncode == 0

    result = harness.collector.result()
    assert (result["result"], result["errorKind"]) == ("failure", "setup")
    assert result["error"] == ("connection crm: its headers.Authorization names the secret CRM_TOKEN, "
                               "which the agent's environment does not have")
    assert harness.launches() == []
