"""Fault: the kernel OOM-kills an agent's container (exit 137, `OOMKilled`) after the attempt has
pushed work to the task branch. The task fails as `oom_killed` with a message that says it ran
out of memory and what to do; the retry policy retries it once (here `maxRetries` 1), and the
retry continues the task branch: the pushed work is where the next attempt starts, not lost to a
reset. A second OOM kill spends no retry it does not have."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.faults.engine_on_a_cluster import (
    FaultyCluster,
    job_env,
    launch_and_start,
    new_repo_task,
    put_away,
    reconcile_on_cluster,
    slots_of,
    states_of,
)
from tests.support.gitrepo import git, make_bare_repo
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.xdist_group("in-process"), pytest.mark.usefixtures("engine_tables")]


def push_work(bare: Path, branch: str, tmp: Path) -> str:
    """What attempt 1's runner pushed before the kill: a commit on the task branch."""
    work = tmp / "attempt-1"
    git("clone", "--quiet", str(bare), str(work), cwd=tmp)
    git("checkout", "--quiet", "-b", branch, cwd=work)
    (work / "feature.py").write_text("print('half done')\n")
    git("add", "feature.py", cwd=work)
    git("commit", "--quiet", "-m", "attempt 1", cwd=work)
    git("push", "--quiet", "origin", f"HEAD:refs/heads/{branch}", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


# The runner's checkout, run as its image runs it (PYTHONPATH=runner-image), with an attempt's
# environment: where the attempt starts.
CHECK_OUT = """
import json, os, sys
from pathlib import Path
from optio_runner.gitops import Git, check_out
from optio_runner.process import Supervisor

checkout = check_out(Git(Supervisor(), Path(sys.argv[1]), {}), os.environ["OPTIO_REPO_URL"],
                     os.environ["OPTIO_REPO_BRANCH"], os.environ["OPTIO_BRANCH_NAME"],
                     reset=os.environ.get("OPTIO_RESET_BRANCH") == "1")
print(json.dumps({"start": checkout.start_sha, "existed": checkout.branch_existed}))
"""


def runner_checkout(env: dict[str, str], repo_dir: Path) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", CHECK_OUT, str(repo_dir)], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300, check=False,
                          env={**os.environ, **env, "PYTHONPATH": str(REPO_ROOT / "runner-image")})
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_oom_killed(cluster: FaultyCluster, tmp_path: Path) -> None:
    from chalicelib.launch.k8s_job import job_name
    from chalicelib.store import executions

    bare = make_bare_repo(tmp_path)
    task_id = new_repo_task("queued", repoUrl=str(bare), maxRetries=1)
    branch = str(executions.get(task_id).branchName)
    free = slots_of(task_id)
    first = launch_and_start(cluster, tmp_path, task_id)
    pushed = push_work(bare, branch, tmp_path)

    cluster.oom_kill_pod(first)
    killed = reconcile_on_cluster(cluster, tmp_path, task_id)
    assert killed.errors == [] and killed.first_decisions() == ["Transition"], killed.taken
    row = executions.get(task_id)
    assert (row.state, row.errorKind, int(row.retryCount or 0), row.retryable) == ("failed", "oom_killed", 0, True)
    # The reason, and the remedy.
    assert "ran out of memory" in str(row.errorMessage) and "raise the memory limit" in str(row.errorMessage), \
        row.errorMessage
    assert "limit 4Gi" in str(row.errorMessage), row.errorMessage
    assert slots_of(task_id) == free
    # The killed attempt's Job is removed with its pod.
    assert cluster.job(first) is None

    # Retried once, after the policy's delay.
    def retried() -> bool:
        return reconcile_on_cluster(cluster, tmp_path, task_id).errors == [] and \
            executions.get(task_id).state == "queued"
    wait_for(retried, timeout_s=120, interval_s=0.5, what="the automatic retry")
    assert int(executions.get(task_id).retryCount) == 1
    second = launch_and_start(cluster, tmp_path, task_id)
    assert second == job_name(task_id, 2)

    # The retry continues the branch: its runner is told the same branch and no reset, and the
    # runner's checkout with that environment starts at the commit attempt 1 pushed.
    env = job_env(cluster, second)
    assert (env["OPTIO_BRANCH_NAME"], env["OPTIO_REPO_URL"], env["OPTIO_ATTEMPT"]) == (branch, str(bare), "2")
    assert "OPTIO_RESET_BRANCH" not in env
    assert runner_checkout(env, tmp_path / "attempt-2" / "repo") == {"start": pushed, "existed": True}
    assert (tmp_path / "attempt-2" / "repo" / "feature.py").read_text() == "print('half done')\n"

    # The second OOM kill: failed with its reason, and no retry left.
    cluster.oom_kill_pod(second)
    again = reconcile_on_cluster(cluster, tmp_path, task_id)
    assert again.errors == [] and [kind for kind, _ in again.taken[0]] == ["Transition", "Noop"], again.taken
    assert again.taken[0][1][1] == "failed; no automatic retry left"
    row = executions.get(task_id)
    assert (row.state, row.errorKind, int(row.retryCount)) == ("failed", "oom_killed", 1)
    assert states_of(task_id) == ["queued", "provisioning", "running", "failed",
                                  "queued", "provisioning", "running", "failed"]
    # Nothing lost: attempt 1's work is still the branch's head, and no slot is held.
    assert git("rev-parse", f"refs/heads/{branch}", cwd=bare) == pushed
    assert slots_of(task_id) == free
    put_away(task_id)
