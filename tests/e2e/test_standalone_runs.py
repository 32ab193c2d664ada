"""Runs of standalone tasks end to end in local mode: the dispatcher and its slots, the local
launcher, the real runner without a repository, the stand-in `claude`, and the resync's retries."""
from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.support.localmode import LocalMode, start_local_mode
from tests.support.waiting import wait_for

pytestmark = pytest.mark.xdist_group("e2e-standalone")
STALL_THRESHOLD_MS = 4000  # heartbeats come every second (tests/conftest.py)
MAX_WORKFLOW_CONCURRENT = 3


@pytest.fixture(scope="module")
def local_mode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMode]:
    mode = start_local_mode(tmp_path_factory.mktemp("standalone"), OPTIO_STALL_THRESHOLD_MS=str(STALL_THRESHOLD_MS),
                            OPTIO_MAX_WORKFLOW_CONCURRENT=str(MAX_WORKFLOW_CONCURRENT))
    yield mode
    mode.stop()


def job(mode: LocalMode, prompt: str, **fields: Any) -> dict[str, Any]:
    return mode.api.ok("POST", "/api/jobs", {  # type: ignore[no-any-return]
        "type": "standalone", "name": f"job-{uuid.uuid4().hex[:8]}", "promptTemplate": prompt, **fields,
    }, status=201)


def start(mode: LocalMode, job_id: str, params: dict[str, Any] | None = None) -> str:
    return str(mode.api.ok("POST", f"/api/tasks/{job_id}/runs", {"params": params or {}}, status=202)["runId"])


def run_of(mode: LocalMode, run_id: str) -> dict[str, Any]:
    return mode.api.ok("GET", f"/api/workflow-runs/{run_id}")  # type: ignore[no-any-return]


def wait_run(mode: LocalMode, run_id: str, done: Any, timeout_s: float = 30, what: str = "") -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        run = run_of(mode, run_id)
        return run if done(run) else None

    return wait_for(probe, timeout_s, interval_s=0.1, what=what or f"run {run_id}")


def agent_runs(mode: LocalMode, run_id: str) -> list[dict[str, Any]]:
    return [r for r in mode.agent_runs() if run_id in str(r["cwd"])]


def gone(pid: int) -> bool:
    """Exited; an orphan nobody has reaped yet (a zombie) counts as gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_a_run_completes_with_its_output_cost_tokens_and_logs(local_mode: LocalMode) -> None:
    weekly = job(local_mode, "Write the security report on {{repo}}", maxTurns=7,
                 paramsSchema={"type": "object", "properties": {"repo": {"type": "string", "default": "web"}}})
    run_id = start(local_mode, weekly["id"])
    run = wait_run(local_mode, run_id, lambda r: r["state"] in ("completed", "failed"), what="the run to finish")
    assert run["state"] == "completed", run
    assert run["output"] == "Done: the change is in place."
    assert run["costUsd"] == pytest.approx(0.0123) and run["inputTokens"] and run["outputTokens"]
    assert run["startedAt"] and run["finishedAt"] and run["errorMessage"] is None and run["attempt"] == 1

    [agent] = agent_runs(local_mode, run_id)
    argv = agent["argv"]
    assert argv[argv.index("--max-turns") + 1] == "7"
    assert argv[argv.index("-p") + 1] == "Write the security report on web"
    # No repository: the agent works in a scratch directory, not a checkout.
    assert str(agent["cwd"]).endswith("/work") and not os.path.exists(os.path.join(agent["cwd"], ".git"))
    created = at(run["createdAt"])
    print("run created -> " + ", ".join(f"{name} +{(at(value) - created).total_seconds() * 1000:.0f} ms" for name, value in (
        ("slot taken", run["startedAt"]), ("launched", run["launchedAt"]), ("agent started", agent["at"]),
        ("finished", run["finishedAt"]))))

    lines = local_mode.api.ok("GET", f"/api/workflow-runs/{run_id}/logs?after=0&limit=200")["items"]
    assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))
    assert {"text", "tool_use"} <= {line["type"] for line in lines}
    assert any("no repository" in line["content"] for line in lines)

    # A run's history, as a task's: every transition an event, with who caused it.
    events = local_mode.api.ok("GET", f"/api/workflow-runs/{run_id}/events")["items"]
    assert [(e["from"], e["to"], e["trigger"]) for e in events] == [
        (None, "queued", "manual"), ("queued", "running", "dispatcher"), ("running", "completed", "runner")]


def most_at_once(runs: list[dict[str, Any]]) -> int:
    # A run holds its slots from startedAt (queued -> running) to finishedAt (the way out).
    intervals = [(at(r["startedAt"]), at(r["finishedAt"])) for r in runs]
    return max(sum(1 for s, e in intervals if s <= start_ < e) for start_, _ in intervals)


def test_three_runs_of_a_task_limited_to_two_never_run_three_at_once(local_mode: LocalMode) -> None:
    limited = job(local_mode, "[fake:sleep=1.5] run {{n}}", maxConcurrent=2)
    ids = [start(local_mode, limited["id"], {"n": n}) for n in range(3)]
    runs = [wait_run(local_mode, i, lambda r: r["state"] == "completed", what="all three to complete")
            for i in ids]
    assert most_at_once(runs) == 2, runs
    intervals = [(at(r["startedAt"]), at(r["finishedAt"])) for r in runs]
    # The agents agree: the third started only after one of the first two had finished.
    third = max(at(agent_runs(local_mode, i)[0]["at"]) for i in ids)
    assert third >= min(end for _, end in intervals)


def test_runs_of_several_tasks_never_exceed_the_global_limit(local_mode: LocalMode) -> None:
    jobs = [job(local_mode, "[fake:sleep=2] run {{n}}", maxConcurrent=2)["id"] for _ in range(3)]
    ids = [start(local_mode, job_id, {"n": n}) for job_id in jobs for n in range(2)]
    runs = [wait_run(local_mode, i, lambda r: r["state"] == "completed", what="all six to complete") for i in ids]
    assert most_at_once(runs) == MAX_WORKFLOW_CONCURRENT, runs


def test_a_failing_run_is_retried_once_after_backoff_and_a_cancelled_one_never(local_mode: LocalMode) -> None:
    failing = start(local_mode, job(local_mode, "[fake:fail] always breaks")["id"])
    slow = start(local_mode, job(local_mode, "[fake:sleep=60] takes long")["id"])
    agent = wait_for(lambda: next(iter(agent_runs(local_mode, slow)), None), what="the slow agent to start")
    cancelled = local_mode.api.ok("POST", f"/api/workflow-runs/{slow}/cancel")
    assert cancelled["state"] == "failed" and cancelled["errorMessage"] == "Cancelled by user"
    wait_for(lambda: gone(int(agent["pid"])), timeout_s=30, what="the cancelled agent to exit")

    failed = wait_run(local_mode, failing, lambda r: r["state"] == "failed" and r["retryCount"] == 1,
                      timeout_s=40, what="the failing run to be retried and fail again")
    assert "simulated failure" in failed["errorMessage"] and failed["attempt"] == 2
    first, second = (at(a["at"]) for a in agent_runs(local_mode, failing))
    assert (second - first).total_seconds() >= 5  # 5 s * 2^0 after the first failure

    # The retry above came after its backoff: by then a cancelled run would have been retried too.
    after = run_of(local_mode, slow)
    assert after["state"] == "failed" and after["retryCount"] == 0 and after["attempt"] == 1, after
    assert len(agent_runs(local_mode, slow)) == 1
    assert run_of(local_mode, failing)["state"] == "failed"
    cancel = local_mode.api.ok("GET", f"/api/workflow-runs/{slow}/events")["items"][-1]
    assert (cancel["from"], cancel["to"], cancel["trigger"], cancel["message"]) == (
        "running", "failed", "user", "Cancelled by user")


def test_a_run_over_its_budget_fails_and_is_not_retried(local_mode: LocalMode) -> None:
    run_id = start(local_mode, job(local_mode, "[fake:cost=0.5] expensive", budgetUsd=0.01)["id"])
    run = wait_run(local_mode, run_id, lambda r: r["state"] == "failed", what="the run to fail")
    assert run["errorMessage"].startswith("budget exceeded"), run
    assert run["errorKind"] == "budget" and run["retryCount"] == 0
    argv = agent_runs(local_mode, run_id)[0]["argv"]
    assert "--max-turns" in argv


def test_a_run_whose_runner_died_fails_with_the_reason_and_is_retried(local_mode: LocalMode) -> None:
    run_id = start(local_mode, job(local_mode, "[fake:sleep=60] long report")["id"])
    agent = wait_for(lambda: next(iter(agent_runs(local_mode, run_id)), None), what="the agent to start")
    # The agent's parent is the runner: kill it as an OOM kill or a crash would.
    runner_pid = parent_of(int(agent["pid"]))
    os.kill(runner_pid, signal.SIGKILL)
    failed = wait_run(local_mode, run_id, lambda r: r["state"] == "failed" or r["attempt"] > 1,
                      what="the resync to notice the dead runner")
    assert failed["errorKind"] == "crash" and "signal 9" in failed["errorMessage"], failed
    wait_for(lambda: gone(int(agent["pid"])), timeout_s=30, what="the orphaned agent to be stopped")
    retried = wait_run(local_mode, run_id, lambda r: r["state"] == "running" and r["attempt"] == 2,
                       timeout_s=20, what="the automatic retry")
    assert retried["retryCount"] == 1
    assert local_mode.api.ok("POST", f"/api/workflow-runs/{run_id}/cancel")["state"] == "failed"


def test_a_run_whose_agent_went_silent_fails_as_stalled(local_mode: LocalMode) -> None:
    run_id = start(local_mode, job(local_mode, "[fake:sleep=60] quiet report", maxRetries=0)["id"])
    agent = wait_for(lambda: next(iter(agent_runs(local_mode, run_id)), None), what="the agent to start")
    runner_pid = parent_of(int(agent["pid"]))
    os.kill(runner_pid, signal.SIGSTOP)  # alive, but no more heartbeats
    failed = wait_run(local_mode, run_id, lambda r: r["state"] == "failed", timeout_s=STALL_THRESHOLD_MS / 1000 + 10,
                      what="the run to stall")
    assert failed["errorKind"] == "stalled" and "no heartbeat" in failed["errorMessage"], failed
    wait_for(lambda: gone(int(agent["pid"])), timeout_s=30, what="the stalled agent to be stopped")
