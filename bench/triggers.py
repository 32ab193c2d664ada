"""Benchmark of the triggers: what a schedule tick costs as triggers pile up (webhooks:
bench/webhooks.py).

  - tick: `engine.triggers.tick` against DynamoDB Local with 100 and then 10,000 schedule triggers,
    none of them due; median and p95 of 30 ticks each, and the ratio. The tick reads the sparse
    due-index from the top, so it should not grow with the number of triggers.

    .venv/bin/python bench/triggers.py [--triggers 10000]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chalicelib.local.dynamodb_local import DynamoDBLocal  # noqa: E402


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--triggers", type=int, default=10000)
    args = parser.parse_args()

    costs = tick_costs(args.triggers)
    for size, median, p95 in costs:
        print(f"tick with {size} triggers, none due: median {median:.1f} ms, p95 {p95:.1f} ms")
    print(f"tick cost ratio {costs[-1][0]} / {costs[0][0]} triggers: {costs[-1][1] / costs[0][1]:.2f}")


if __name__ == "__main__":
    main()
