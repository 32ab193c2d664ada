"""Webhook deliveries: signed `POST /api/hooks/:path` -> 202, latency and round trips (issue 18.4).

Local mode in this process (DynamoDB Local, the stream poller, the real runner and stand-in agent),
as `make dev` runs it; 200 signed deliveries one after another, spread over paths so that none
meets the 60-a-minute limit. Prints p50 and p99 of request -> 202 as the client sees it, and the
DynamoDB calls one delivery makes (each a round trip on AWS), by operation: on its request's
thread, one after the other, and beside it (services.hooks reads the trigger's config on another
thread while the request's reads the trigger).

    .venv/bin/python bench/webhooks.py [--hooks 200]
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import hmac
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import FAKES, free_port  # noqa: E402
from tests.support.api import Api  # noqa: E402
from tests.support.gitrepo import make_bare_repo  # noqa: E402

HOOKS_PER_PATH = 50  # under the 60-a-minute limit of each path
SECRET = "bench-secret"
READER_THREADS = "hook-read"  # services.hooks' reader threads' names


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Calls:
    """The DynamoDB calls a hook request makes, by operation (those made beside its thread apart),
    and per request the time the server took (handler and middleware, ms) and the share of it its
    thread spent waiting for DynamoDB."""

    def __init__(self) -> None:
        self.by_operation: collections.Counter[str] = collections.Counter()
        self.beside: collections.Counter[str] = collections.Counter()
        self.requests = 0
        self.server_ms: list[float] = []
        self.dynamodb_ms: list[float] = []
        self._local = threading.local()
        self._lock = threading.Lock()

    def install(self) -> None:
        from pynamodb.connection.base import Connection

        import app

        dispatch = Connection.dispatch

        def counted(connection: Connection, operation_name: str, operation_kwargs: dict[str, Any]) -> Any:
            if threading.current_thread().name.startswith(READER_THREADS):
                with self._lock:
                    self.beside[operation_name] += 1
                return dispatch(connection, operation_name, operation_kwargs)
            if not getattr(self._local, "hook", False):
                return dispatch(connection, operation_name, operation_kwargs)
            began = time.perf_counter()
            try:
                return dispatch(connection, operation_name, operation_kwargs)
            finally:
                self._local.dynamodb_s += time.perf_counter() - began
                with self._lock:
                    self.by_operation[operation_name] += 1

        Connection.dispatch = counted  # type: ignore[method-assign]

        def hook_request(request: Any, get_response: Any) -> Any:
            if not request.path.startswith("/api/hooks/"):
                return get_response(request)
            self._local.hook, self._local.dynamodb_s = True, 0.0
            began = time.perf_counter()
            try:
                return get_response(request)
            finally:
                self._local.hook = False
                with self._lock:
                    self.requests += 1
                    self.server_ms.append((time.perf_counter() - began) * 1000)
                    self.dynamodb_ms.append(self._local.dynamodb_s * 1000)

        app.app.register_middleware(hook_request, "http")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hooks", type=int, default=200)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="optio-bench-hooks-"))
    os.environ.pop("OPTIO_DYNAMODB_ENDPOINT", None)
    for name in ("OPTIO_API_TOKEN", "OPTIO_RUN_TOKEN_SECRET", "OPTIO_SECRETS_KEY"):
        os.environ.pop(name, None)
    os.environ.update(
        OPTIO_PORT=str(free_port()), OPTIO_DATA_DIR=str(tmp / "data"), OPTIO_MAX_CONCURRENT="1",
        OPTIO_TABLE_PREFIX=f"hooks-{uuid.uuid4().hex[:8]}-", OPTIO_AGENT_BIN_CLAUDE_CODE=str(FAKES / "claude"),
        AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local",
    )
    from chalicelib.local.bootstrap import prepare
    from chalicelib.local.dynamodb_local import DynamoDBLocal

    prepare(os.environ)
    ddb = DynamoDBLocal(ROOT / ".deps", log_path=tmp / "dynamodb.log")
    ddb.start()
    os.environ["OPTIO_DYNAMODB_ENDPOINT"] = ddb.endpoint
    out, err = sys.stdout, sys.stderr
    # The functions' logs and the server's request lines: kept, not shown; before app is imported
    # (powertools' logger holds the stream it finds).
    sys.stdout = sys.stderr = open(tmp / "local-mode.log", "w")  # noqa: SIM115 - open for the whole run
    calls = Calls()
    calls.install()
    from chalicelib.local.stack import LocalStack

    stack = LocalStack()
    stack.start()
    api = Api(stack.url, stack.token)
    latencies = []
    try:
        repo = api.ok("POST", "/api/repos", {"repoUrl": str(make_bare_repo(tmp))}, status=201)
        paths = []
        for n in range((args.hooks + HOOKS_PER_PATH - 1) // HOOKS_PER_PATH):
            blueprint = api.ok("POST", "/api/tasks", {
                "type": "repo-blueprint", "name": f"hook-{n}", "repoId": repo["id"],
                "title": "Fix {{error}}", "prompt": "[fake:noop] fix {{error}}", "maxRetries": 0}, status=201)
            path = f"bench-{n}-{uuid.uuid4().hex[:6]}"
            api.ok("POST", f"/api/tasks/{blueprint['id']}/triggers", {"type": "webhook", "config": {
                "path": path, "secret": SECRET, "paramMapping": {"error": "$.data.issue.title"}}}, status=201)
            paths.append(path)
        session = requests.Session()
        for n in range(args.hooks):
            body = json.dumps({"data": {"issue": {"title": f"TypeError #{n}"}}}).encode()
            signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            began = time.perf_counter()
            response = session.post(f"{stack.url}/api/hooks/{paths[n // HOOKS_PER_PATH]}", data=body, timeout=30,
                                    headers={"Content-Type": "application/json", "X-Optio-Signature": signature})
            latencies.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 202, response.text
    finally:
        stack.stop()
        ddb.stop()
        sys.stdout, sys.stderr = out, err
    per_delivery = {op: count / max(1, calls.requests) for op, count in calls.by_operation.most_common()}
    print(f"webhook -> 202 ({len(latencies)} signed requests): p50 {pct(latencies, .5):.1f} ms, "
          f"p99 {pct(latencies, .99):.1f} ms  (goal: p99 <= 100 ms)")
    print(f"  of which in the server: p50 {pct(calls.server_ms, .5):.1f} ms, p99 {pct(calls.server_ms, .99):.1f} ms; "
          f"waiting for DynamoDB: p50 {pct(calls.dynamodb_ms, .5):.1f} ms, p99 {pct(calls.dynamodb_ms, .99):.1f} ms")
    beside = {op: count / max(1, calls.requests) for op, count in calls.beside.most_common()}
    print(f"webhook round trips to DynamoDB per delivery: {sum(per_delivery.values()):.1f} one after the other ("
          + ", ".join(f"{op} {count:.1f}" for op, count in per_delivery.items()) + f"), "
          f"{sum(beside.values()):.1f} beside them on another thread ("
          + ", ".join(f"{op} {count:.1f}" for op, count in beside.items()) + ")")


if __name__ == "__main__":
    main()
