"""The attempt's connections (OPTIO_CONNECTIONS): MCP servers named by the server with the secrets
they need by name, resolved here from the agent's secrets, and written in each agent CLI's own
MCP configuration format (checked against what each pinned CLI's `mcp add` writes itself).

A connection is `stdio` (a command the CLI starts, with args and env) or `http` (a streamable HTTP
URL, with headers). `env` maps a server variable to a secret's name; a header is a template in
which `${NAME}` is a secret's value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]{0,127})\}")


class UnresolvedConnection(Exception):
    """A connection cannot be given to the agent: a secret it names is not in the agent's secrets."""


@dataclass(frozen=True)
class McpServer:
    name: str
    # stdio: the command and its arguments, and its variables (values resolved).
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    # http: the URL and its headers (values resolved).
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def stdio(self) -> bool:
        return self.command is not None


def parse_connections(raw: str | None) -> tuple[Mapping[str, Any], ...]:
    """OPTIO_CONNECTIONS as the server wrote it; ValueError when it is not a list of named objects."""
    if raw is None or not raw.strip():
        return ()
    given = json.loads(raw)
    if not isinstance(given, list) or not all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in given):
        raise ValueError("OPTIO_CONNECTIONS must be a JSON list of objects with a name")
    return tuple(given)


def resolve(connections: Sequence[Mapping[str, Any]], secrets: Mapping[str, str]) -> tuple[McpServer, ...]:
    """The connections with their secrets' values, from the agent's environment."""
    servers = []
    for connection in connections:
        name = str(connection["name"])

        def value_of(secret: str, where: str, name: str = name) -> str:
            if secret not in secrets:
                raise UnresolvedConnection(f"connection {name}: its {where} names the secret {secret}, "
                                           "which the agent's environment does not have")
            return secrets[secret]

        def filled(header: str, template: str) -> str:
            return _REFERENCE.sub(lambda found: value_of(found.group(1), f"headers.{header}"), template)

        env = {var: value_of(str(secret), f"env.{var}") for var, secret in (connection.get("env") or {}).items()}
        headers = {header: filled(header, str(template))
                   for header, template in (connection.get("headers") or {}).items()}
        servers.append(McpServer(name=name, command=connection.get("command"),
                                 args=tuple(str(a) for a in connection.get("args") or ()), env=env,
                                 url=connection.get("url"), headers=headers))
    return tuple(servers)


def mcp_servers_json(servers: Sequence[McpServer], *, stdio_type: str | None, http_type: str,
                     extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The `mcpServers` object Claude Code, Gemini CLI and Copilot CLI share, with their own
    `type` words: stdio servers `command`/`args`/`env`, http servers `url`/`headers`."""
    found: dict[str, Any] = {}
    for server in servers:
        entry: dict[str, Any]
        if server.stdio:
            entry = {"command": server.command, "args": list(server.args), "env": dict(server.env)}
            if stdio_type:
                entry["type"] = stdio_type
        else:
            entry = {"type": http_type, "url": server.url, "headers": dict(server.headers)}
        found[server.name] = {**entry, **(extra or {})}
    return found


def claude_code_config(servers: Sequence[McpServer]) -> str:
    """The file Claude Code's `--mcp-config` reads (as `claude mcp add` writes its servers)."""
    return json.dumps({"mcpServers": mcp_servers_json(servers, stdio_type="stdio", http_type="http")}, indent=2) + "\n"


def gemini_servers(servers: Sequence[McpServer]) -> dict[str, Any]:
    """settings.json's `mcpServers` (as `gemini mcp add` writes them: no type for stdio)."""
    return mcp_servers_json(servers, stdio_type=None, http_type="http")


def copilot_config(servers: Sequence[McpServer]) -> str:
    """$COPILOT_HOME/mcp-config.json (as `copilot mcp add` writes it: every tool of the server)."""
    servers_json = mcp_servers_json(servers, stdio_type="local", http_type="http", extra={"tools": ["*"]})
    return json.dumps({"mcpServers": servers_json}, indent=2) + "\n"


def opencode_servers(servers: Sequence[McpServer]) -> dict[str, Any]:
    """opencode.json's `mcp`: `local` servers run a command list, `remote` ones are a URL."""
    found: dict[str, Any] = {}
    for server in servers:
        if server.stdio:
            found[server.name] = {"type": "local", "command": [server.command, *server.args],
                                  "environment": dict(server.env), "enabled": True}
        else:
            found[server.name] = {"type": "remote", "url": server.url, "headers": dict(server.headers),
                                  "enabled": True}
    return found


def codex_tables(servers: Sequence[McpServer]) -> list[str]:
    """config.toml's `[mcp_servers.<name>]` tables (as `codex mcp add` writes them; headers in
    `http_headers`). TOML basic strings take JSON's escapes; names are slugs, valid bare keys."""
    lines: list[str] = []
    for server in servers:
        lines += ["", f"[mcp_servers.{server.name}]"]
        if server.stdio:
            lines += [f"command = {json.dumps(server.command)}", f"args = {json.dumps(list(server.args))}"]
            values, table = server.env, "env"
        else:
            lines.append(f"url = {json.dumps(server.url)}")
            values, table = server.headers, "http_headers"
        if values:
            lines += ["", f"[mcp_servers.{server.name}.{table}]"]
            lines += [f"{json.dumps(key)} = {json.dumps(value)}" for key, value in values.items()]
    return lines
