"""Warm pools end to end in local mode: runners started before there is work, a run's agent
started in one of them, the pool refilled, and the idle ones stopped when the pool shrinks."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.localmode import LocalMode, start_local_mode
from tests.support.waiting import wait_for

pytestmark = pytest.mark.xdist_group("e2e-warm-pools")


@pytest.fixture(scope="module")
def local_mode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMode]:
    mode = start_local_mode(tmp_path_factory.mktemp("warm"))
    yield mode
    mode.stop()


def warm_runners(mode: LocalMode) -> dict[str, int]:
    """Pod id -> pid of the live warm runners local mode started (its children with OPTIO_WARM_POD)."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            environ = (proc / "environ").read_bytes().split(b"\0")
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
        if int(fields[1]) != mode.process.pid or fields[0] == "Z":
            continue
        for entry in environ:
            if entry.startswith(b"OPTIO_WARM_POD="):
                found[entry.split(b"=", 1)[1].decode()] = int(proc.name)
    return found


def test_a_run_starts_in_a_pre_started_runner_and_the_pool_refills_and_shrinks(local_mode: LocalMode) -> None:
    api = local_mode.api
    task = api.ok("POST", "/api/tasks", {"type": "standalone", "name": f"warm-{uuid.uuid4().hex[:8]}",
                                         "promptTemplate": "Write the report", "warmPoolSize": 2}, status=201)
    assert task["warmPoolSize"] == 2
    waiting = wait_for(lambda: r if len(r := warm_runners(local_mode)) == 2 else None, 60,
                       what="two warm runners")
    # The claim is a warm runner's alone: another token is refused, an unknown runner is not in a pool.
    pod_id = next(iter(waiting))
    assert api.request("POST", f"/api/internal/warm-pods/{pod_id}/claim", json={},
                       headers={"Authorization": "Bearer optio_warm_forged"}).status_code == 401
    assert api.request("POST", "/api/internal/warm-pods/nobody/claim", json={},
                       headers={"Authorization": "Bearer optio_warm_forged"}).status_code == 404

    run_id = str(api.ok("POST", f"/api/tasks/{task['id']}/runs", {"params": {}}, status=202)["runId"])
    run = wait_for(lambda: r if (r := api.ok("GET", f"/api/workflow-runs/{run_id}"))["state"] in ("completed", "failed")
                   else None, 60, what="the run to finish")
    assert run["state"] == "completed", run
    # Its agent ran in the workspace of a runner that was waiting before the run was created.
    [agent] = [a for a in local_mode.agent_runs() if "/warm-" in str(a["cwd"])]
    adopter = next(pod for pod in waiting if f"/warm-{pod}/" in str(agent["cwd"]))
    assert run["warmPod"] == adopter

    refilled = wait_for(lambda: r if len(r := warm_runners(local_mode)) == 2 and adopter not in r else None, 60,
                        what="the pool to refill")
    assert set(waiting) - {adopter} <= set(refilled)

    api.ok("PATCH", f"/api/tasks/{task['id']}", {"warmPoolSize": 0})
    wait_for(lambda: not warm_runners(local_mode), 60, what="the idle runners to stop")


@pytest.mark.parametrize(("body", "field"), [({"warmPoolSize": 11}, "warmPoolSize"),
                                             ({"warmPoolSize": -1}, "warmPoolSize"),
                                             ({"warmPoolSize": "2"}, "warmPoolSize")])
def test_a_bad_size_is_a_400_naming_the_field(local_mode: LocalMode, body: dict[str, object], field: str) -> None:
    for path, given in (("/api/tasks", {"type": "standalone", "name": "w", "promptTemplate": "p", **body}),
                        ("/api/repos", {"repoUrl": "https://github.com/acme/warm", **body})):
        answer = local_mode.api.request("POST", path, json=given)
        assert answer.status_code == 400, answer.text
        assert field in answer.text


def test_a_repo_task_starts_in_its_repositorys_warm_runner(local_mode: LocalMode, repo_path: Path) -> None:
    api = local_mode.api
    before = set(warm_runners(local_mode))
    repo = api.ok("POST", "/api/repos", {"repoUrl": str(repo_path), "warmPoolSize": 1}, status=201)
    assert repo["warmPoolSize"] == 1
    waiting = wait_for(lambda: r if len(r := set(warm_runners(local_mode)) - before) == 1 else None, 60,
                       what="the repository's warm runner")
    task = api.ok("POST", "/api/tasks", {"title": "Warm fix", "prompt": "Fix it", "repoId": repo["id"]}, status=201)
    done = api.wait_state(task["id"], {"completed", "failed", "needs_attention"})
    assert done["state"] == "completed", done
    assert {done["warmPod"]} == waiting
    api.ok("DELETE", f"/api/repos/{repo['id']}", status=204)
    wait_for(lambda: not set(warm_runners(local_mode)) - before - waiting, 60,
             what="the deleted repository's pool to empty")
