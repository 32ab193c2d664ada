"""A small stdio MCP server built on the official MCP Python SDK (pinned in requirements-mcp.txt,
installed by `make mcp` into .deps/mcp): what a Connection's command starts in the Connections
tests. An agent CLI starts it, lists its one tool and calls it over the real protocol.

`lookup(topic)` answers who owns a topic. The answer says whether the server was given the
expected token in WIKI_API_TOKEN (compared by SHA-256, so neither the value nor a hint of it
reaches the agent's log): the proof that the connection's secret reached the server.

    .deps/mcp/bin/python tests/fakes/mcp_server.py --expect-token-sha256 <hex>
"""
from __future__ import annotations

import argparse
import hashlib
import os

SERVER_NAME = "wiki"
TOOL_NAME = "lookup"
OWNERS = {"billing": "team Orbit", "search": "team Lumen"}


def answer(topic: str, expected_sha256: str) -> str:
    token = os.environ.get("WIKI_API_TOKEN", "")
    signed_in = bool(token) and hashlib.sha256(token.encode()).hexdigest() == expected_sha256
    owner = OWNERS.get(topic.strip().lower(), "nobody yet")
    return f"wiki: {topic} is owned by {owner} ({'signed in' if signed_in else 'anonymous'})"


def main() -> None:
    # Here, not at the top: the tests import this module for its names, in a venv without the SDK.
    from mcp.server.mcpserver import MCPServer

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--expect-token-sha256", default="")
    expected = parser.parse_args().expect_token_sha256
    server = MCPServer(SERVER_NAME)

    @server.tool(name=TOOL_NAME, description="Who owns a topic, from the team wiki.")
    def lookup(topic: str) -> str:
        return answer(topic, expected)

    server.run("stdio")


if __name__ == "__main__":
    main()
