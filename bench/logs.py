"""A long log opens at its end (issue 18.7): a task with 5,000 log lines, its newest 200 read
newest first (`GET .../logs?order=desc&limit=200`: one query read backwards) against reading
oldest first until the end (what a page without `order=desc` had to do), against DynamoDB Local;
median of 7 each.

    .venv/bin/python bench/logs.py [--lines 5000]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chalicelib.local.dynamodb_local import DynamoDBLocal  # noqa: E402

PAGE = 200  # the API's largest page


def median_ms(read: Callable[[], None]) -> float:
    times = []
    for _ in range(7):
        began = time.perf_counter()
        read()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=5000)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="optio-bench-logs-"))
    with DynamoDBLocal(ROOT / ".deps", log_path=data / "dynamodb.log") as ddb:
        os.environ.update(OPTIO_DYNAMODB_ENDPOINT=ddb.endpoint, OPTIO_TABLE_PREFIX=f"logs-{uuid.uuid4().hex[:6]}-",
                          AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local")
        from chalicelib.store import logs
        from chalicelib.store.tables import create_all

        create_all()
        task = str(uuid.uuid4())
        for start in range(0, args.lines, 100):  # as the runner sends them: batches of up to 100
            logs.append(task, 1, [logs.LogLine("text", f"line {n} " + "x" * 80, "2026-12-02T00:00:00.000Z")
                                  for n in range(start, min(args.lines, start + 100))])

        def newest() -> None:
            lines = logs.newest_first(task, None, PAGE)
            assert lines[0].seq == args.lines, lines[0].seq

        def to_the_end() -> None:
            after, last = 0, []
            while page := logs.after(task, after, PAGE):
                last, after = page, int(page[-1].seq)
            assert last[-1].seq == args.lines

        print(f"log of {args.lines:,} lines, its newest {PAGE}: newest first {median_ms(newest):.0f} ms; "
              f"oldest first to the end {median_ms(to_the_end):.0f} ms  (goal: newest lines in <= 1 s)")


if __name__ == "__main__":
    main()
