"""Benchmark of the spine: how much time Optio itself adds around an agent run.

Starts local mode (embedded DynamoDB Local, the local launcher, the real runner) in a subprocess,
creates N tasks at once with an instant stand-in agent, and prints p50/p95 of
  - created -> agent process started, and
  - slot taken (provisioning) -> agent process started (the launch path), and
  - created -> completed, minus the agent's own run time and the wait for a free slot (the
    orchestration overhead),
plus the time of `import app` (a Lambda cold start's share of our code).

    .venv/bin/python bench/spine.py [--tasks 20] [--concurrency 5]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.gitrepo import make_bare_repo  # noqa: E402
from tests.support.localmode import start_local_mode  # noqa: E402
from tests.support.waiting import wait_for  # noqa: E402


def at(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def import_time(runs: int = 5) -> float:
    code = "import time; t = time.perf_counter(); import app; print(time.perf_counter() - t)"
    env = {**os.environ, "OPTIO_DYNAMODB_ENDPOINT": "http://127.0.0.1:9", "OPTIO_RUN_TOKEN_SECRET": "x"}
    samples = [
        float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                             capture_output=True, text=True).stdout)
        for _ in range(runs)
    ]
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=5)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="optio-bench-"))
    times_file = tmp / "agent-times.jsonl"
    os.environ.pop("OPTIO_DYNAMODB_ENDPOINT", None)
    mode = start_local_mode(
        tmp, shared_store=False,
        OPTIO_MAX_CONCURRENT=str(args.concurrency),
        OPTIO_AGENT_BIN_CLAUDE_CODE=str(ROOT / "bench" / "timed_agent"),
        BENCH_AGENT_TIMES=str(times_file),
    )
    try:
        repo = mode.api.ok("POST", "/api/repos", {"repoUrl": str(make_bare_repo(tmp)),
                                                 "maxConcurrentTasks": args.concurrency}, status=201)
        began = time.monotonic()
        ids = [mode.api.ok("POST", "/api/tasks", {"title": f"Bench {i}", "prompt": f"task {i}",
                                                  "repoId": repo["id"], "maxRetries": 0}, status=201)["id"]
               for i in range(args.tasks)]

        def finished() -> list[dict[str, object]] | None:
            tasks = [mode.api.task(i) for i in ids]
            return tasks if all(t["state"] in ("completed", "failed") for t in tasks) else None

        tasks = wait_for(finished, timeout_s=600, interval_s=0.25, what="all tasks to finish")
        wall = time.monotonic() - began
        slot_taken = {
            i: next(at(e["at"]) for e in mode.api.ok("GET", f"/api/tasks/{i}/events")["items"]
                    if e["to"] == "provisioning")
            for i in ids
        }
    finally:
        mode.stop()

    agents = {}
    for line in times_file.read_text().splitlines():
        record = json.loads(line)
        agents[Path(record["cwd"]).parent.name.rsplit("-", 1)[0]] = record
    to_start, launch, overhead = [], [], []
    for task in tasks:
        agent = agents[str(task["id"])]
        created = at(str(task["createdAt"]))
        queued_for_slot = slot_taken[str(task["id"])] - created
        to_start.append(agent["start"] - created)
        launch.append(agent["start"] - slot_taken[str(task["id"])])
        overhead.append(at(str(task["completedAt"])) - created - (agent["end"] - agent["start"])
                        - queued_for_slot)
    failed = sum(1 for t in tasks if t["state"] != "completed")
    print(f"tasks: {args.tasks} (concurrency {args.concurrency}), failed: {failed}, wall: {wall:.1f} s")
    print(f"created -> agent started: p50 {pct(to_start, .5):.2f} s, p95 {pct(to_start, .95):.2f} s")
    print(f"slot taken -> agent started: p50 {pct(launch, .5):.2f} s, p95 {pct(launch, .95):.2f} s")
    print(f"end-to-end minus agent time minus waiting for a slot: p50 {pct(overhead, .5):.2f} s, "
          f"p95 {pct(overhead, .95):.2f} s")
    print(f"import app: {import_time() * 1000:.0f} ms (median of 5)")


if __name__ == "__main__":
    main()
