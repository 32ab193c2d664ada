"""Test-session set-up: one in-memory DynamoDB Local per test process, and the environment the
product reads at import, settled before any test module imports it."""
from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
FAKES = REPO_ROOT / "tests" / "fakes"
ADMIN_TOKEN = "optio_admin_test_token"

_ddb = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _is_xdist_controller(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "numprocesses", None)) and "PYTEST_XDIST_WORKER" not in os.environ


def pytest_configure(config: pytest.Config) -> None:
    global _ddb
    if _is_xdist_controller(config):
        return
    from chalicelib.local.dynamodb_local import DynamoDBLocal

    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    data_dir = Path(tempfile.mkdtemp(prefix=f"optio-test-{worker}-"))
    _ddb = DynamoDBLocal(REPO_ROOT / ".deps", log_path=data_dir / "dynamodb.log")
    _ddb.start()
    os.environ.update(
        OPTIO_PORT=str(free_port()),
        OPTIO_RESYNC_INTERVAL_MS="500",
        OPTIO_HEARTBEAT_INTERVAL_MS="1000",
        OPTIO_DYNAMODB_ENDPOINT=_ddb.endpoint,
        OPTIO_TABLE_PREFIX=f"it-{worker}-",
        OPTIO_DATA_DIR=str(data_dir),
        OPTIO_API_TOKEN=ADMIN_TOKEN,
        OPTIO_RUN_TOKEN_SECRET="test-run-token-secret",
        OPTIO_SECRETS_KEY="MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        OPTIO_LAUNCHER="local",
        OPTIO_AGENT_BIN_CLAUDE_CODE=str(FAKES / "claude"),
        FAKE_AGENT_LOG=str(data_dir / "agent-runs.jsonl"),
        OPTIO_AGENT_PASS_ENV="FAKE_AGENT_LOG",
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_REGION="us-east-1",
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """pytest 9 takes a node's id from `_id`, while pytest-xdist 3.8 writes its `@group` suffix
    to `_nodeid`, so `--dist loadgroup` would ignore every `xdist_group` and start each module's
    local mode once per worker. Carry the suffix over."""
    from _pytest.nodeid import coerce_node_id

    for item in items:
        grouped = getattr(item, "_nodeid", None)
        if isinstance(grouped, str) and "@" in grouped and grouped != item.nodeid:
            item._id = coerce_node_id(grouped)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _ddb is not None:
        _ddb.stop()
