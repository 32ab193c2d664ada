"""Benchmark of the spine: how much time Optio itself adds around an agent run.

Starts local mode (embedded DynamoDB Local, the local launcher, the real runner) in a subprocess,
creates N tasks at once with an instant stand-in agent, and prints p50/p95 of (an agent "started"
when the runner created its process; bench/timed_agent reads that from /proc)
  - created -> agent process started, and
  - slot taken (provisioning) -> agent process started (the launch path), and
  - created -> completed, minus the agent's own run time and the wait for a free slot (the
    orchestration overhead),
plus where the launch path's time goes (the task's events and the runner's own log lines), the
time of `import app` (a Lambda cold start's share of our code), and, in the same run, the same work
without Optio (bench/bare_task.sh: clone, the same stand-in agent, commit, push; same concurrency):
the last line is the ratio of a task's time in Optio, slot wait aside, to that.

    .venv/bin/python bench/spine.py [--tasks 20] [--concurrency 5]
"""
from __future__ import annotations

import argparse
import concurrent.futures
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

from tests.support.api import Api  # noqa: E402
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


def repo_tasks(api: Api, repo_id: str) -> list[dict[str, object]]:
    """Every task of the repository, page by page."""
    items: list[dict[str, object]] = []
    cursor = None
    while True:
        page = api.ok("GET", f"/api/tasks?repoId={repo_id}&limit=100" + (f"&cursor={cursor}" if cursor else ""))
        items += page["items"]
        cursor = page["nextCursor"]
        if not cursor:
            return items


def bare_runs(repo: Path, tasks: int, concurrency: int, work: Path, name: str) -> list[float]:
    """Wall time of bench/bare_task.sh for each of `tasks` tasks, `concurrency` at a time."""
    env = {**os.environ, "BENCH_AGENT_TIMES": str(work / "bare-agent-times.jsonl")}

    def one(i: int) -> float:
        started = time.monotonic()
        subprocess.run([str(ROOT / "bench" / "bare_task.sh"), str(repo), f"{name}-{i}", f"task {i}",
                        str(work / f"{name}-{i}")], env=env, check=True)
        return time.monotonic() - started

    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, range(tasks)))


# The launch path's steps, each ending at a mark the task leaves: the runner's log lines (stamped
# when the runner wrote them) and the agent's process. The start is reported during the checkout.
STEPS = (("launch, runner process start and imports", "checking out"),
         ("clone and checkout", "on "),
         ("the start report's answer, setup, agent environment", "starting agent"),
         ("agent process created", "created"),
         ("(the stand-in's own interpreter start, not counted)", "agent"))


def launch_breakdown(api: Api, task_id: str, slot: float, agent: dict[str, float]) -> list[float]:
    """Seconds of each of STEPS for one task, from the slot to the agent's first instruction."""
    logs = api.ok("GET", f"/api/tasks/{task_id}/logs?limit=200")["items"]
    marks = {"created": agent["created"], "agent": agent["start"]}
    for prefix in ("checking out", "on ", "starting agent"):
        marks[prefix] = next(at(line["at"]) for line in logs
                             if line["type"] == "system" and line["content"].startswith(prefix))
    previous, spans = slot, []
    for _, mark in STEPS:
        spans.append(marks[mark] - previous)
        previous = marks[mark]
    return spans


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=5)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="optio-bench-"))
    # The baseline runs before and after Optio's run, so a change in the machine's load over the
    # run weighs on both sides alike.
    bare_repo = make_bare_repo(tmp, "bare.git")
    bare = bare_runs(bare_repo, args.tasks, args.concurrency, tmp, "before")
    times_file = tmp / "agent-times.jsonl"
    os.environ.pop("OPTIO_DYNAMODB_ENDPOINT", None)
    mode = start_local_mode(
        tmp, shared_store=False,
        OPTIO_MAX_CONCURRENT=str(args.concurrency),
        OPTIO_AGENT_BIN_CLAUDE_CODE=str(ROOT / "bench" / "timed_agent"),
        BENCH_AGENT_TIMES=str(times_file),
        # Runners get an allow-list of the environment: the stand-in's settings are named.
        OPTIO_AGENT_PASS_ENV="FAKE_AGENT_LOG,BENCH_AGENT_TIMES",
    )
    try:
        repo = mode.api.ok("POST", "/api/repos", {"repoUrl": str(make_bare_repo(tmp)),
                                                 "maxConcurrentTasks": args.concurrency}, status=201)
        began = time.monotonic()
        ids = [mode.api.ok("POST", "/api/tasks", {"title": f"Bench {i}", "prompt": f"task {i}",
                                                  "repoId": repo["id"], "maxRetries": 0}, status=201)["id"]
               for i in range(args.tasks)]

        def finished() -> list[dict[str, object]] | None:
            # One list request a poll, not one per task: the bench must not be the server's load.
            tasks = repo_tasks(mode.api, repo["id"])
            return tasks if all(t["state"] in ("completed", "failed") for t in tasks) else None

        tasks = wait_for(finished, timeout_s=600, interval_s=0.5, what="all tasks to finish")
        wall = time.monotonic() - began
        slot_taken = {
            i: next(at(e["at"]) for e in mode.api.ok("GET", f"/api/tasks/{i}/events")["items"]
                    if e["to"] == "provisioning")
            for i in ids
        }
        agents = {}
        for line in times_file.read_text().splitlines():
            record = json.loads(line)
            agents[Path(record["cwd"]).parent.name.rsplit("-", 1)[0]] = record
        steps = [launch_breakdown(mode.api, i, slot_taken[i], agents[i]) for i in ids]
    finally:
        mode.stop()

    to_start, launch, overhead, in_optio = [], [], [], []
    for task in tasks:
        agent = agents[str(task["id"])]
        created = at(str(task["createdAt"]))
        queued_for_slot = slot_taken[str(task["id"])] - created
        to_start.append(agent["created"] - created)
        launch.append(agent["created"] - slot_taken[str(task["id"])])
        in_optio.append(at(str(task["completedAt"])) - created - queued_for_slot)
        overhead.append(in_optio[-1] - (agent["end"] - agent["created"]))
    bare += bare_runs(bare_repo, args.tasks, args.concurrency, tmp, "after")
    failed = sum(1 for t in tasks if t["state"] != "completed")
    print(f"tasks: {args.tasks} (concurrency {args.concurrency}), failed: {failed}, wall: {wall:.1f} s")
    print(f"created -> agent started: p50 {pct(to_start, .5):.2f} s, p95 {pct(to_start, .95):.2f} s")
    print(f"slot taken -> agent started: p50 {pct(launch, .5):.2f} s, p95 {pct(launch, .95):.2f} s")
    for n, (name, _) in enumerate(STEPS):
        spans = [task_steps[n] for task_steps in steps]
        print(f"  {name}: p50 {pct(spans, .5):.2f} s, p95 {pct(spans, .95):.2f} s")
    print(f"end-to-end minus agent time minus waiting for a slot: p50 {pct(overhead, .5):.2f} s, "
          f"p95 {pct(overhead, .95):.2f} s")
    print(f"import app: {import_time() * 1000:.0f} ms (median of 5)")
    print(f"a task in Optio, end to end minus waiting for a slot: p50 {pct(in_optio, .5):.2f} s, "
          f"p95 {pct(in_optio, .95):.2f} s")
    print(f"the same work without Optio (bench/bare_task.sh, concurrency {args.concurrency}, before and after): "
          f"p50 {pct(bare, .5):.2f} s, p95 {pct(bare, .95):.2f} s")
    print(f"overhead ratio (optio / bare), p50: {pct(in_optio, .5) / pct(bare, .5):.2f}")


if __name__ == "__main__":
    main()
