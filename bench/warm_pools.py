"""Benchmark of warm pools: slot taken -> agent process started for runs of a standalone task,
without a warm pool (the launcher starts a runner for the attempt) and with one (a runner already
waiting adopts it), in local mode with the real runner and an instant stand-in agent.

Runs go one at a time, each once its pool is full again, so every warm run finds an idle runner:
what is measured is the launch path, not a pool too small for the load. "Agent started" is when
the runner created the agent's process (bench/timed_agent reads that from /proc; 10 ms ticks).

    .venv/bin/python bench/warm_pools.py [--runs 10] [--pool 2]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.spine import at, pct  # noqa: E402
from tests.support.localmode import LocalMode, start_local_mode  # noqa: E402
from tests.support.waiting import wait_for  # noqa: E402


def idle_runners(mode: LocalMode) -> int:
    """Local mode's live warm runners that have not adopted a run (its children with
    OPTIO_WARM_POD whose workspace has no agent work yet)."""
    count = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            environ = (proc / "environ").read_bytes()
            cwd = Path(os.readlink(proc / "cwd"))
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
        if int(fields[1]) == mode.process.pid and fields[0] != "Z" and b"OPTIO_WARM_POD=" in environ \
                and not (cwd / "work").exists():
            count += 1
    return count


def launch_times(mode: LocalMode, times_file: Path, runs: int, pool: int) -> list[float]:
    """Seconds from slot taken to agent started, for `runs` runs of a task with `pool` warm runners."""
    api = mode.api
    task = api.ok("POST", "/api/tasks", {"type": "standalone", "name": f"bench-warm-{pool}",
                                         "promptTemplate": "Say done", "maxRetries": 0, "warmPoolSize": pool},
                  status=201)
    spans = []
    for i in range(runs):
        if pool:
            wait_for(lambda: idle_runners(mode) >= pool or None, 120, interval_s=0.05, what="the pool to fill")
        seen = len(times_file.read_text().splitlines()) if times_file.exists() else 0
        run_id = api.ok("POST", f"/api/tasks/{task['id']}/runs", {"params": {}}, status=202)["runId"]
        run = wait_for(lambda path=f"/api/workflow-runs/{run_id}": r if (r := api.ok("GET", path))["state"]
                       in ("completed", "failed") else None, 120, interval_s=0.1, what=f"run {i}")
        assert run["state"] == "completed", run
        assert bool(run["warmPod"]) == bool(pool), run
        slot = next(at(e["at"]) for e in api.ok("GET", f"/api/workflow-runs/{run_id}/events")["items"]
                    if e["to"] == "running")
        [agent] = [json.loads(line) for line in times_file.read_text().splitlines()[seen:]]
        spans.append(agent["created"] - slot)
    api.ok("PATCH", f"/api/tasks/{task['id']}", {"warmPoolSize": 0})
    return spans


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--pool", type=int, default=2)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="optio-bench-warm-"))
    times_file = tmp / "agent-times.jsonl"
    os.environ.pop("OPTIO_DYNAMODB_ENDPOINT", None)
    mode = start_local_mode(tmp, shared_store=False, OPTIO_AGENT_BIN_CLAUDE_CODE=str(ROOT / "bench" / "timed_agent"),
                            BENCH_AGENT_TIMES=str(times_file), OPTIO_AGENT_PASS_ENV="FAKE_AGENT_LOG,BENCH_AGENT_TIMES")
    try:
        cold = launch_times(mode, times_file, args.runs, 0)
        warm = launch_times(mode, times_file, args.runs, args.pool)
    finally:
        mode.stop()
    print(f"warm pools: {args.runs} runs each, one at a time")
    print(f"slot taken -> agent started, no warm pool: p50 {pct(cold, .5):.3f} s, p95 {pct(cold, .95):.3f} s")
    print(f"slot taken -> agent started, warmPoolSize {args.pool}: p50 {pct(warm, .5):.3f} s, "
          f"p95 {pct(warm, .95):.3f} s")


if __name__ == "__main__":
    main()
