"""Benchmark of the triggers: what a schedule tick costs as triggers pile up, and how fast a
webhook is answered.

  - tick: `engine.triggers.tick` against DynamoDB Local with 100 and then 10,000 schedule triggers,
    none of them due; median and p95 of 30 ticks each, and the ratio. The tick reads the sparse
    due-index from the top, so it should not grow with the number of triggers.
  - webhook: local mode in a subprocess (as `make dev` runs it), signed `POST /api/hooks/:path`
    requests one after another; p50 and p99 of request -> 202.

    .venv/bin/python bench/triggers.py [--triggers 10000] [--hooks 200]
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chalicelib.local.dynamodb_local import DynamoDBLocal  # noqa: E402
from tests.support.gitrepo import make_bare_repo  # noqa: E402
from tests.support.localmode import start_local_mode  # noqa: E402

HOOKS_PER_PATH = 50  # under the 60-a-minute limit of each path
SECRET = "bench-secret"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def tick_costs(total: int, samples: int = 30) -> list[tuple[int, float, float]]:
    """(triggers, median ms, p95 ms) with 100 and with `total` triggers, none due."""
    data = Path(tempfile.mkdtemp(prefix="optio-bench-ddb-"))
    with DynamoDBLocal(ROOT / ".deps", log_path=data / "dynamodb.log") as ddb:
        os.environ.update(OPTIO_DYNAMODB_ENDPOINT=ddb.endpoint, OPTIO_TABLE_PREFIX=f"bench-{uuid.uuid4().hex[:6]}-",
                          AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local")
        from chalicelib.core.timefmt import iso
        from chalicelib.services.triggers import tick
        from chalicelib.store.models import TriggerModel
        from chalicelib.store.tables import create_all

        create_all()
        now = datetime.now(UTC)
        later = iso(now + timedelta(days=1))

        def add(count: int, start: int) -> None:
            with TriggerModel.batch_write() as batch:
                for n in range(start, start + count):
                    batch.save(TriggerModel(
                        id=f"trigger-{n}", targetId=f"config-{n}", type="schedule",
                        config={"cronExpression": "0 6 * * *"}, enabled=True, nextFireAt=later,
                        duePartition="due", createdAt=iso(now), updatedAt=iso(now)))

        results = []
        added = 0
        for size in (100, total):
            add(size - added, added)
            added = size
            for _ in range(10):  # warm the connection and DynamoDB Local's JIT
                tick(now)
            times = []
            for _ in range(samples):
                began = time.perf_counter()
                outcome = tick(now)
                times.append((time.perf_counter() - began) * 1000)
                assert outcome == {"due": 0, "fired": 0}, outcome
            results.append((size, statistics.median(times), pct(times, .95)))
        return results


def webhook_latencies(total: int) -> list[float]:
    tmp = Path(tempfile.mkdtemp(prefix="optio-bench-hooks-"))
    os.environ.pop("OPTIO_DYNAMODB_ENDPOINT", None)
    mode = start_local_mode(tmp, shared_store=False, OPTIO_MAX_CONCURRENT="1")
    try:
        repo = mode.api.ok("POST", "/api/repos", {"repoUrl": str(make_bare_repo(tmp))}, status=201)
        paths = []
        for n in range((total + HOOKS_PER_PATH - 1) // HOOKS_PER_PATH):
            blueprint = mode.api.ok("POST", "/api/tasks", {
                "type": "repo-blueprint", "name": f"hook-{n}", "repoId": repo["id"],
                "title": "Fix {{error}}", "prompt": "[fake:noop] fix {{error}}", "maxRetries": 0}, status=201)
            path = f"bench-{n}-{uuid.uuid4().hex[:6]}"
            mode.api.ok("POST", f"/api/tasks/{blueprint['id']}/triggers", {"type": "webhook", "config": {
                "path": path, "secret": SECRET, "paramMapping": {"error": "$.data.issue.title"}}}, status=201)
            paths.append(path)
        latencies = []
        session = requests.Session()
        for n in range(total):
            body = json.dumps({"data": {"issue": {"title": f"TypeError #{n}"}}}).encode()
            signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            began = time.perf_counter()
            response = session.post(f"{mode.url}/api/hooks/{paths[n // HOOKS_PER_PATH]}", data=body, timeout=30,
                                    headers={"Content-Type": "application/json", "X-Optio-Signature": signature})
            latencies.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 202, response.text
        return latencies
    finally:
        mode.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--triggers", type=int, default=10000)
    parser.add_argument("--hooks", type=int, default=200)
    args = parser.parse_args()

    costs = tick_costs(args.triggers)
    for size, median, p95 in costs:
        print(f"tick with {size} triggers, none due: median {median:.1f} ms, p95 {p95:.1f} ms")
    print(f"tick cost ratio {costs[-1][0]} / {costs[0][0]} triggers: {costs[-1][1] / costs[0][1]:.2f}")
    latencies = webhook_latencies(args.hooks)
    print(f"webhook -> 202 ({len(latencies)} signed requests): p50 {pct(latencies, .5):.1f} ms, "
          f"p99 {pct(latencies, .99):.1f} ms")


if __name__ == "__main__":
    main()
