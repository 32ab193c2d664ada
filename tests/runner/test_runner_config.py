"""Reading the environment, and the HTTP side of the protocol in-process."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from optio_runner.config import ConfigError, load_config
from optio_runner.loglines import log_line
from optio_runner.process import StopReason, Supervisor
from optio_runner.reporter import LogShipper, Reporter, RetryPolicy

REQUIRED = {
    "OPTIO_TASK_ID": "t1",
    "OPTIO_ATTEMPT": "3",
    "OPTIO_API_URL": "http://127.0.0.1:8000/",
    "OPTIO_RUN_TOKEN": "secret",
    "OPTIO_REPO_URL": "/srv/repo.git",
    "OPTIO_BRANCH_NAME": "optio/x-t1",
    "OPTIO_AGENT_TYPE": "claude",
    "OPTIO_PROMPT": "\n  Fix the bug\nin detail",
}


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config({**REQUIRED, "ANTHROPIC_API_KEY": "k", "OPTIO_MODEL": " "})

    assert (cfg.attempt, cfg.api_url, cfg.repo_branch, cfg.max_turns) == (
        3,
        "http://127.0.0.1:8000",
        "main",
        250,
    )
    assert (cfg.heartbeat_interval_s, cfg.log_flush_s) == (30.0, 0.5)
    assert (cfg.model, cfg.resume_session_id, cfg.setup_commands) == (None, None, ())
    assert cfg.task_title == "Fix the bug"
    assert cfg.repo_dir == tmp_path.resolve() / "repo"
    assert cfg.agent_binary("claude-code", "claude") == "claude"
    # Secrets reach the agent; the run token does not.
    assert cfg.child_env["ANTHROPIC_API_KEY"] == "k"
    assert "OPTIO_RUN_TOKEN" not in cfg.child_env


def test_overrides(tmp_path: Path) -> None:
    cfg = load_config(
        {
            **REQUIRED,
            "OPTIO_AGENT_BIN_CLAUDE_CODE": "/opt/fake-claude",
            "OPTIO_SETUP_COMMANDS": '["npm ci", "  "]',
            "OPTIO_HEARTBEAT_INTERVAL_MS": "250",
            "OPTIO_WORKSPACE": str(tmp_path),
        }
    )

    assert cfg.agent_binary("claude-code", "claude") == "/opt/fake-claude"
    assert cfg.setup_commands == ("npm ci",)
    assert cfg.heartbeat_interval_s == 0.25
    assert cfg.workspace == tmp_path.resolve()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"OPTIO_PROMPT": ""}, "missing required environment variables: OPTIO_PROMPT"),
        ({"OPTIO_MAX_TURNS": "0"}, "OPTIO_MAX_TURNS must be at least 1"),
        ({"OPTIO_SETUP_COMMANDS": "npm ci"}, "OPTIO_SETUP_COMMANDS is not valid JSON"),
        ({"OPTIO_SETUP_COMMANDS": '{"a": 1}'}, "must be a JSON list of strings"),
    ],
)
def test_invalid(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config({**REQUIRED, **overrides})


class Server:
    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses  # answered in turn; 200 once used up
        self.bodies: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                server.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(server.statuses.pop(0) if server.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"


@pytest.fixture
def server_factory() -> Iterator[Any]:
    servers: list[Server] = []

    def make(statuses: list[int]) -> Server:
        server = Server(statuses)
        threading.Thread(
            target=server.http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.http.shutdown()
        server.http.server_close()


def test_log_batches_keep_order_and_size(server_factory: Any) -> None:
    server = server_factory([])
    supervisor = Supervisor()
    shipper = LogShipper(Reporter(server.url, "t1", "tok", 2, supervisor), supervisor, flush_s=60)
    shipper.start()

    shipper.add(log_line("text", f"line {i}") for i in range(250))
    shipper.close()

    assert [len(body["lines"]) for body in server.bodies] == [100, 100, 50]
    contents = [line["content"] for body in server.bodies for line in body["lines"]]
    assert contents == [f"line {i}" for i in range(250)]
    assert all(body["attempt"] == 2 and body["kind"] == "logs" for body in server.bodies)


def test_retries_then_gives_up_within_the_budget(server_factory: Any) -> None:
    server = server_factory([500] * 100)
    reporter = Reporter(server.url, "t1", "tok", 1, Supervisor())

    assert not reporter.send("result", {}, RetryPolicy(retries=None, budget_s=0.5, max_delay_s=5))
    assert len(server.bodies) == 2  # a third try, 0.6 s in, would overrun the budget


def test_conflict_stops_the_attempt(server_factory: Any) -> None:
    server = server_factory([503, 409])
    supervisor = Supervisor()

    assert not Reporter(server.url, "t1", "tok", 1, supervisor).send("heartbeat", {"costUsd": None})
    assert supervisor.reason is StopReason.SUPERSEDED
    assert len(server.bodies) == 2


def test_a_workflow_run_needs_no_repository(tmp_path: Path) -> None:
    env = {k: v for k, v in REQUIRED.items() if k not in ("OPTIO_REPO_URL", "OPTIO_BRANCH_NAME")}
    with pytest.raises(ConfigError, match="OPTIO_REPO_URL"):
        load_config({**env, "OPTIO_WORKSPACE": str(tmp_path)})
    cfg = load_config({**env, "OPTIO_WORKSPACE": str(tmp_path), "OPTIO_RUN_KIND": "workflow-run"})
    assert not cfg.has_repo and cfg.work_dir == tmp_path.resolve() / "work" and cfg.events_path == "workflow-runs"
    assert load_config({**REQUIRED, "OPTIO_WORKSPACE": str(tmp_path)}).events_path == "tasks"
    with pytest.raises(ConfigError, match="OPTIO_RUN_KIND"):
        load_config({**REQUIRED, "OPTIO_RUN_KIND": "other"})
