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


# Fixture scopes that outlive a test: a test module that sets up one of them (a local mode, an
# agent system, a browser) runs whole on one worker.
_SHARED_SCOPES = ("class", "module", "package")


def _module_scoped_fixture(item: pytest.Item) -> bool:
    """Whether the item uses a fixture of a shared scope defined in this test tree (plugins' own,
    such as anyio's `anyio_backend`, have no base id and cost nothing to set up again)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(defs and defs[-1].scope in _SHARED_SCOPES and defs[-1].baseid
               for defs in (info.name2fixturedefs.get(name) for name in info.names_closure))


# Session fixtures that keep processes running (the integration tests' local mode; the deployed
# topology's functions, stream pollers and schedules), with the group their tests run in. Idle,
# they still poll and tick, taking CPU from the other tests for the rest of the session: each
# worker ends them after the last test that uses them (a later user starts them again).
RUNNING_SESSION_FIXTURES = {"stack": "stack", "deployed": "topology"}


def pytest_itemcollected(item: pytest.Item) -> None:
    """Under `--dist loadgroup` a test without an `xdist_group` is scheduled on its own, so a
    module's tests spread over both workers, and a worker that runs them between other modules'
    sets the module's fixtures up again each time: one more local mode or agent system per split.
    A test that names no group joins the group of the running session fixture it uses, else, if
    its module's tests share a fixture, its module's own group."""
    if item.get_closest_marker("xdist_group") is not None:
        return
    uses = getattr(item, "fixturenames", ())
    running = [group for name, group in RUNNING_SESSION_FIXTURES.items() if name in uses]
    if running:
        item.add_marker(pytest.mark.xdist_group(running[0]))
    elif _module_scoped_fixture(item):
        item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))


# The last test of the collection that uses each running session fixture: where a run without
# xdist's groups ends it (its tests run in collection order, other tests between them).
_last_users: dict[str, str] = {}


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """After pytest's own teardown: a running session fixture ends after its last test (its
    dependants first), not when the session does. On a worker under `--dist loadgroup` its
    group's tests come one after another, so that is when the next test does not use it."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return
    grouped = "PYTEST_XDIST_WORKER" in os.environ and bool(item.config.getvalue("loadgroup"))
    after = getattr(nextitem, "fixturenames", ())
    for name in RUNNING_SESSION_FIXTURES:
        if name not in info.names_closure or name in after:
            continue
        if grouped or _last_users.get(name) == item.nodeid:
            for fixturedef in info.name2fixturedefs.get(name, ()):
                if fixturedef.scope == "session":
                    fixturedef.finish(item._request)  # type: ignore[attr-defined]


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
    _last_users.clear()
    for item in items:
        _last_users.update({name: item.nodeid for name in RUNNING_SESSION_FIXTURES
                            if name in getattr(item, "fixturenames", ())})


def pytest_unconfigure(config: pytest.Config) -> None:
    if _ddb is not None:
        _ddb.stop()
