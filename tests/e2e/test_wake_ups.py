"""Wake-ups on time, with no resync to fall back on: local mode whose resync does not tick during
the test (an hour's interval) still retries a failed run when its backoff is over and fails a
silent agent at its stall deadline, woken by the in-process timers (on AWS: the timers state
machine, tests/topology)."""
from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from tests.e2e.test_standalone_runs import agent_runs, job, parent_of, start, wait_run
from tests.support.localmode import LocalMode, start_local_mode
from tests.support.waiting import wait_for

pytestmark = pytest.mark.xdist_group("e2e-wake-ups")
STALL_THRESHOLD_MS = 4000  # heartbeats come every second (tests/conftest.py)


@pytest.fixture(scope="module")
def local_mode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMode]:
    mode = start_local_mode(tmp_path_factory.mktemp("wake-ups"), OPTIO_RESYNC_INTERVAL_MS=str(3600 * 1000),
                            OPTIO_STALL_THRESHOLD_MS=str(STALL_THRESHOLD_MS))
    yield mode
    mode.stop()


def events(mode: LocalMode, run_id: str) -> list[tuple[str, str, str]]:
    return [(e["to"], e["trigger"], e["message"])
            for e in mode.api.ok("GET", f"/api/workflow-runs/{run_id}/events")["items"]]


def test_a_retry_is_woken_when_its_backoff_is_over(local_mode: LocalMode) -> None:
    run_id = start(local_mode, job(local_mode, "[fake:fail] always breaks", maxRetries=1)["id"])
    failed = wait_run(local_mode, run_id, lambda r: r["state"] == "failed" and r["retryCount"] == 1,
                      timeout_s=60, what="the failing run to be woken, retried and fail again")
    assert failed["attempt"] == 2 and len(agent_runs(local_mode, run_id)) == 2
    assert ("queued", "reconciler", "automatic retry 1 of 1") in events(local_mode, run_id)


def test_a_silent_agent_is_woken_at_its_stall_deadline(local_mode: LocalMode) -> None:
    run_id = start(local_mode, job(local_mode, "[fake:sleep=60] quiet report", maxRetries=0)["id"])
    agent = wait_for(lambda: next(iter(agent_runs(local_mode, run_id)), None), what="the agent to start")
    runner = parent_of(int(agent["pid"]))
    os.kill(runner, signal.SIGSTOP)  # alive, but no more heartbeats
    try:
        failed = wait_run(local_mode, run_id, lambda r: r["state"] == "failed", timeout_s=60,
                          what="the stall deadline's wake-up to fail the run")
    finally:
        os.kill(runner, signal.SIGCONT)
    assert failed["errorKind"] == "stalled" and "no heartbeat" in failed["errorMessage"], failed
