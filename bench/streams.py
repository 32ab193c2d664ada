"""Benchmark of the local stream trigger: how long a write to a table takes to reach the handler
through DynamoDB Local's Streams API and `chalicelib.local.stream_poller.StreamPoller` (the poller's idle
wait decides most of it). Writes are spread over the idle wait; prints p50 and the maximum.

Was a test's wall-clock bound (under 1 s each, median under 0.3 s on an idle machine); a bound is
a benchmark's to report, not a test's to assert on a machine shared with other workers.

    .venv/bin/python bench/streams.py [--writes 50]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chalicelib.local.dynamodb_local import DynamoDBLocal  # noqa: E402
from chalicelib.local.stream_poller import StreamPoller  # noqa: E402
from tests.support.waiting import wait_for  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=50)
    args = parser.parse_args()
    arrivals: list[float] = []
    lock = threading.Lock()

    def handler(event: dict[str, Any], context: Any) -> None:
        with lock:
            arrivals.extend(time.monotonic() for _ in event["Records"])

    with tempfile.TemporaryDirectory() as data, \
            DynamoDBLocal(ROOT / ".deps", log_path=Path(data) / "dynamodb.log") as ddb:
        client = ddb.client()
        table = f"bench-{uuid.uuid4().hex[:8]}"
        client.create_table(
            TableName=table, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        poller = StreamPoller(ddb.endpoint, table, handler)
        poller.start()
        latencies: list[float] = []
        try:
            for index in range(args.writes):
                written_at = time.monotonic()
                client.put_item(TableName=table, Item={"pk": {"S": f"k{index}"}})
                wait_for(lambda seen=index: len(arrivals) > seen, timeout_s=60, interval_s=0.005, what=f"write {index}")
                latencies.append(arrivals[index] - written_at)
                time.sleep(0.013 * (index % 10))  # spread the writes over the poller's idle wait
        finally:
            poller.stop()
    print(f"write -> handler over {len(latencies)} writes: p50 {statistics.median(latencies) * 1000:.0f} ms,"
          f" max {max(latencies) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
