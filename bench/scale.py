"""Scale (issue 18, point 5): what grows with the number of tasks, and what must not.

  - dispatch: `engine.dispatcher.dispatch` against DynamoDB Local with 100 and then 10,000 queued
    tasks, every slot taken (the dispatch reads the queue's head, plans, starts nothing); median
    and p95 of 30 dispatches each, and the ratio (the queue is read by index from its head, so it
    should not grow with the queue);
  - throughput: N tasks (default 1,000) through local mode (`python -m chalicelib.local`, the real
    runner and stand-in agent) with a limit of 20 at once: all complete, the most ever holding a
    slot at once (from the tasks' events) never above the limit, overhead p50/p95 (end to end
    minus the agent's run and the wait for a slot);
  - memory: the local server's resident set (peak and now) with the 10,000 tasks and the N stored,
    after listing them all through the API.

    .venv/bin/python bench/scale.py [--queued 10000] [--tasks 1000] [--limit 20]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chalicelib.local.dynamodb_local import DynamoDBLocal  # noqa: E402
from tests.support.api import Api  # noqa: E402
from tests.support.gitrepo import make_bare_repo  # noqa: E402
from tests.support.localmode import start_local_mode  # noqa: E402
from tests.support.waiting import wait_for  # noqa: E402

SLOT_STATES = ("provisioning", "running")
MB = 1024 * 1024


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def at(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def queued_rows(repo: Any, count: int, start: datetime) -> None:
    """`count` queued tasks written straight to the table, 25 to a request."""
    from chalicelib.store.tasks import QUEUE_PARTITION

    from chalicelib.core.timefmt import iso
    from chalicelib.store.models import ExecutionModel

    with ExecutionModel.batch_write() as batch:
        for i in range(count):
            task_id = str(uuid.uuid4())
            created = iso(start + timedelta(milliseconds=i))
            batch.save(ExecutionModel(
                id=task_id, type="repo-task", state="queued", title=f"Queued {i}", prompt="queued",
                repoId=repo.id, repoUrl=repo.repoUrl, repoBranch="main", branchName=f"optio/q-{task_id[:8]}",
                agentType="claude-code", priority=0, maxRetries=0, retryCount=0, attempt=0, version=1,
                createdAt=created, updatedAt=created, queuedAt=created,
                queuePartition=QUEUE_PARTITION, queueSort=f"0000#{created}#{task_id}"))


def dispatch_costs(total: int, samples: int = 30) -> tuple[list[tuple[int, float, float]], Any]:
    """(queued, median ms, p95 ms) with 100 and with `total` queued tasks, every slot taken."""
    from chalicelib.store.tasks import GLOBAL_SLOTS

    from chalicelib.engine.dispatcher import dispatch
    from chalicelib.services.repos import register_repo
    from chalicelib.settings import settings
    from chalicelib.store.models import CounterModel
    from chalicelib.store.tables import create_all

    create_all()
    repo = register_repo({"repoUrl": "https://github.com/example/scale", "maxConcurrentTasks": 20})
    CounterModel(GLOBAL_SLOTS, value=settings.max_concurrent).save()  # full: nothing starts
    start = datetime.now(UTC)
    results = []
    for count, already in ((100, 0), (total, 100)):
        queued_rows(repo, count - already, start + timedelta(seconds=already))
        times = []
        for _ in range(samples):
            began = time.perf_counter()
            assert dispatch() == []
            times.append((time.perf_counter() - began) * 1000)
        results.append((count, statistics.median(times), pct(times, 0.95)))
    return results, repo


def retire_queued() -> int:
    """The queued tasks become completed ones (out of the queue): the stored tasks for the memory
    figure. The slots the dispatch figure held are given back."""
    from chalicelib.store.tasks import GLOBAL_SLOTS, QUEUE_PARTITION

    from chalicelib.store.models import CounterModel, ExecutionModel

    rows = list(ExecutionModel.queue_index.query(QUEUE_PARTITION))
    with ExecutionModel.batch_write() as batch:
        for row in rows:
            task = ExecutionModel.get(row.id)
            task.state, task.queuePartition, task.queueSort = "completed", None, None
            task.completedAt = task.updatedAt
            batch.save(task)
    CounterModel(GLOBAL_SLOTS, value=0).save()
    return len(rows)


def rss(pid: int) -> tuple[float, float]:
    """(peak, now) resident set of a process, MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmHWM"].split()[0]) / 1024, int(fields["VmRSS"].split()[0]) / 1024


def list_all(api: Api, extra: str = "") -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = api.ok("GET", f"/api/tasks?limit=100{extra}" + (f"&cursor={cursor}" if cursor else ""))
        items += page["items"]
        cursor = page["nextCursor"]
        if not cursor:
            return items


def most_at_once(tasks: list[dict[str, Any]], events: dict[str, list[dict[str, Any]]]) -> int:
    """The most tasks ever holding a slot at once: each holds one from entering provisioning to
    leaving the slot states."""
    changes: list[tuple[float, int]] = []
    for task in tasks:
        holding = None
        for event in events[task["id"]]:
            if event["to"] in SLOT_STATES and holding is None:
                holding = at(event["at"])
            elif event["to"] not in SLOT_STATES and holding is not None:
                changes += [(holding, 1), (at(event["at"]), -1)]
                holding = None
    current = peak = 0
    for _, change in sorted(changes, key=lambda c: (c[0], c[1])):  # a release before a take at a tie
        current += change
        peak = max(peak, current)
    return peak


def throughput(tmp: Path, endpoint: str, prefix: str, tasks: int, limit: int) -> None:
    times_file = tmp / "agent-times.jsonl"
    mode = start_local_mode(
        tmp, OPTIO_DYNAMODB_ENDPOINT=endpoint, OPTIO_TABLE_PREFIX=prefix, OPTIO_MAX_CONCURRENT=str(limit),
        OPTIO_AGENT_BIN_CLAUDE_CODE=str(ROOT / "bench" / "timed_agent"), BENCH_AGENT_TIMES=str(times_file),
        OPTIO_AGENT_PASS_ENV="FAKE_AGENT_LOG,BENCH_AGENT_TIMES",
    )
    try:
        repo = mode.api.ok("POST", "/api/repos", {"repoUrl": str(make_bare_repo(tmp)), "maxConcurrentTasks": limit},
                           status=201)
        began = time.monotonic()
        ids = [mode.api.ok("POST", "/api/tasks", {"title": f"Scale {i}", "prompt": f"task {i}", "repoId": repo["id"],
                                                  "maxRetries": 0}, status=201)["id"] for i in range(tasks)]
        holding: list[int] = []

        def finished() -> list[dict[str, Any]] | None:
            listed = list_all(mode.api, f"&repoId={repo['id']}")
            holding.append(sum(1 for t in listed if t["state"] in SLOT_STATES))
            return listed if all(t["state"] in ("completed", "failed") for t in listed) else None

        done = wait_for(finished, timeout_s=max(600, tasks * 3), interval_s=1.0, what="all tasks to finish")
        wall = time.monotonic() - began
        events = {i: mode.api.ok("GET", f"/api/tasks/{i}/events")["items"] for i in ids}
        for _ in range(3):
            stored = list_all(mode.api)  # every stored task, page by page, as a dashboard would
        peak_mb, now_mb = rss(mode.process.pid)
    finally:
        mode.stop()

    agents = {}
    for line in times_file.read_text().splitlines():
        record = json.loads(line)
        agents[Path(record["cwd"]).parent.name.rsplit("-", 1)[0]] = record
    overhead = []
    for task in done:
        if task["state"] != "completed":
            continue
        agent = agents[task["id"]]
        slot = next(at(e["at"]) for e in events[task["id"]] if e["to"] == "provisioning")
        overhead.append(at(task["completedAt"]) - slot - (agent["end"] - agent["created"]))
    failed = sum(1 for t in done if t["state"] != "completed")
    print(f"{tasks} tasks through local mode, limit {limit}: {len(done) - failed} completed, {failed} failed, "
          f"wall {wall:.0f} s ({tasks / wall:.1f} tasks/s)")
    print(f"  most holding a slot at once: {most_at_once(done, events)} (from the events; limit {limit}); "
          f"most seen running by polling: {max(holding)}")
    print(f"  overhead (end to end minus the agent's run and the wait for a slot): p50 {pct(overhead, .5):.2f} s, "
          f"p95 {pct(overhead, .95):.2f} s")
    print(f"Local server with {len(stored):,} tasks stored, after listing them all 3 times: "
          f"peak RSS {peak_mb:.0f} MB, now {now_mb:.0f} MB (goal: under 500 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queued", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=20)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="optio-bench-scale-"))
    prefix = f"scale-{uuid.uuid4().hex[:6]}-"
    with DynamoDBLocal(ROOT / ".deps", log_path=tmp / "dynamodb.log") as ddb:
        os.environ.update(OPTIO_DYNAMODB_ENDPOINT=ddb.endpoint, OPTIO_TABLE_PREFIX=prefix,
                          AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local")
        costs, _ = dispatch_costs(args.queued)
        print("dispatch with every slot taken (reads the queue's head, starts nothing):")
        for count, median, p95 in costs:
            print(f"  {count:>6} queued: median {median:6.1f} ms, p95 {p95:6.1f} ms (30 dispatches)")
        print(f"  ratio {costs[-1][0]:,} / {costs[0][0]:,}: {costs[-1][1] / costs[0][1]:.2f} (goal: at most 1.5)")
        retired = retire_queued()
        print(f"({retired:,} queued tasks now stored as completed ones)")
        throughput(tmp, ddb.endpoint, prefix, args.tasks, args.limit)


if __name__ == "__main__":
    main()
