"""The local launcher leaves nothing of a finished attempt but the runner's log: the workspace
goes once the runner has exited, whether it finished or was cancelled (as a pod's emptyDir)."""
from __future__ import annotations

import uuid

from chalicelib.core.reconcile import PodPhase
from chalicelib.launch import LaunchSpec
from tests.support.waiting import wait_for

from .support import LocalHarness


def spec() -> LaunchSpec:
    return LaunchSpec(execution_id=str(uuid.uuid4()), attempt=1, environment={"OPTIO_TASK_ID": "t", "OPTIO_PROMPT": "p"})


def test_a_finished_attempt_leaves_only_its_runner_log(local: LocalHarness) -> None:
    given = spec()
    local.launcher.launch(given)
    wait_for(lambda: local.starts(given.execution_id, 1), what="the stand-in runner to start")
    workspace = local.workspace(given.execution_id, 1)
    (workspace / "repo").mkdir()
    (workspace / "repo" / "work.txt").write_text("the agent's files")

    local.finish(given.execution_id, 1, 0)

    wait_for(lambda: not workspace.exists(), what="the workspace to be removed")
    assert local.launcher.status(given.execution_id, 1).phase is PodPhase.SUCCEEDED
    log = local.work_dir / f"{given.execution_id}-1.runner.log"
    assert "stand-in runner" in log.read_text() and "started" in log.read_text()


def test_a_cancelled_attempt_is_removed_too(local: LocalHarness) -> None:
    given = spec()
    local.launcher.launch(given)
    wait_for(lambda: local.starts(given.execution_id, 1), what="the stand-in runner to start")

    local.launcher.cancel(given.execution_id, 1)

    wait_for(lambda: not local.workspace(given.execution_id, 1).exists(), what="the workspace to be removed")
    assert local.launcher.status(given.execution_id, 1).phase is PodPhase.FAILED
