"""Sessions survive the workspace: local mode removes a finished attempt's workspace (the agent's
HOME with it), so a resume, or a force-restart that keeps the session, only continues the
conversation because the runner saved the session through the API and restored it."""
from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import requests

from chalicelib.core.tokens import run_token
from tests.support.api import Api
from tests.support.localmode import LocalMode
from tests.support.waiting import wait_for


def new_repo(api: Api, repo_path: Path) -> dict[str, Any]:
    return api.ok("POST", "/api/repos", {"repoUrl": str(repo_path)}, status=201)  # type: ignore[no-any-return]


def new_task(api: Api, repo: dict[str, Any], prompt: str) -> dict[str, Any]:
    body = {"title": "Session", "prompt": prompt, "repoId": repo["id"], "maxRetries": 0}
    return api.ok("POST", "/api/tasks", body, status=201)  # type: ignore[no-any-return]


def workspace_gone(mode: LocalMode, task_id: str, attempt: int) -> bool:
    return not (mode.data_dir / "work" / f"{task_id}-{attempt}").exists()


def saved(mode: LocalMode, task_id: str, session_id: str) -> Path:
    return mode.data_dir / "sessions" / "tasks" / task_id / f"{session_id}.tar.gz"


def log_text(api: Api, task_id: str) -> str:
    return "\n".join(line["content"] for line in api.logs(task_id))


def agent_argv(mode: LocalMode, task_id: str) -> list[list[str]]:
    return [run["argv"] for run in mode.agent_runs() if task_id in str(run["cwd"])]


def test_a_resume_continues_the_session_after_the_workspace_is_gone(local_mode: LocalMode,
                                                                    repo_path: Path) -> None:
    api = local_mode.api
    repo = new_repo(api, repo_path)
    task = new_task(api, repo, "[fake:noop] look around")
    first = api.wait_state(task["id"], "needs_attention")
    session_id = first["sessionId"]
    wait_for(lambda: workspace_gone(local_mode, task["id"], 1), what="the first workspace to be removed")
    assert saved(local_mode, task["id"], session_id).is_file()
    assert (local_mode.data_dir / "work" / f"{task['id']}-1.runner.log").is_file()  # the runner's output stays

    api.ok("POST", f"/api/tasks/{task['id']}/resume", {"prompt": "now write the file"})

    done = api.wait_state(task["id"], "completed")
    assert done["sessionId"] == session_id
    logs = log_text(api, task["id"])
    assert f"restored session {session_id} (1 file)" in logs
    assert "Continuing the conversation: 1 earlier prompts." in logs
    assert agent_argv(local_mode, task["id"])[-1][-2:] == ["--resume", session_id]
    wait_for(lambda: workspace_gone(local_mode, task["id"], 2), what="the second workspace to be removed")


def test_a_force_restart_that_keeps_the_session_continues_it(local_mode: LocalMode, repo_path: Path) -> None:
    api = local_mode.api
    repo = new_repo(api, repo_path)
    task = new_task(api, repo, "[fake:fail] try")
    failed = api.wait_state(task["id"], "failed")
    wait_for(lambda: workspace_gone(local_mode, task["id"], 1), what="the first workspace to be removed")

    api.ok("POST", f"/api/tasks/{task['id']}/force-restart", {"keepSession": True, "prompt": "write it now"})

    done = api.wait_state(task["id"], "completed")
    assert done["sessionId"] == failed["sessionId"]
    assert "Continuing the conversation: 1 earlier prompts." in log_text(api, task["id"])
    assert agent_argv(local_mode, task["id"])[-1][-2:] == ["--resume", failed["sessionId"]]
    events = api.ok("GET", f"/api/tasks/{task['id']}/events")["items"]
    assert any(e.get("message") == "restarted, continuing the agent session" for e in events)


def test_only_the_task_s_own_run_token_reaches_its_session(local_mode: LocalMode, repo_path: Path) -> None:
    api = local_mode.api
    repo = new_repo(api, repo_path)
    task = new_task(api, repo, "[fake:noop] look around")
    other = new_task(api, repo, "[fake:noop] something else")
    session_id = api.wait_state(task["id"], "needs_attention")["sessionId"]
    api.wait_state(other["id"], "needs_attention")
    secret = (local_mode.data_dir / "run-token-secret").read_text().strip()
    runner = Api(local_mode.url, run_token(secret, task["id"], 1))
    stranger = Api(local_mode.url, run_token(secret, other["id"], 1))
    ask = f"/api/internal/tasks/{task['id']}/sessions/{session_id}/download"

    # Another task's token is not a token of this task at all; under its own task there is no such session.
    assert stranger.post(ask, {}).status_code == 401
    assert stranger.post(f"/api/internal/tasks/{other['id']}/sessions/{session_id}/download", {}).status_code == 404
    assert Api(local_mode.url, None).post(ask, {}).status_code == 401

    link = runner.ok("POST", ask, {})
    archive = requests.get(link["url"], headers=link["headers"], timeout=30)
    assert archive.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(archive.content), mode="r:gz") as tar:
        assert any(name.endswith(f"/{session_id}.jsonl") for name in tar.getnames())
    # The link is good for that session only, and only with its signature.
    other_session = link["url"].replace(f"/sessions/{session_id}?", "/sessions/not-this-one?")
    assert requests.get(other_session, headers=link["headers"], timeout=30).status_code == 403
    unsigned = link["url"].split("?")[0]
    assert requests.get(unsigned, headers=link["headers"], timeout=30).status_code == 403
    # An attempt that is over may read its task's session but not overwrite it.
    task_now = api.task(task["id"])
    assert task_now["attempt"] == 1
    api.ok("POST", f"/api/tasks/{task['id']}/resume", {"prompt": "[fake:noop] again"})
    api.wait_state(task["id"], "needs_attention", timeout_s=30)
    late = runner.post(f"/api/internal/tasks/{task['id']}/sessions/{session_id}/upload", {})
    assert late.status_code == 409
    bad = runner.post(f"/api/internal/tasks/{task['id']}/sessions/bad!id/download", {})
    assert bad.status_code == 400 and bad.json()["details"][0]["field"] == "sessionId"


def test_a_standalone_run_saves_its_session_too(local_mode: LocalMode) -> None:
    api = local_mode.api
    job = api.ok("POST", "/api/jobs", {"type": "standalone", "name": "sessions-job", "promptTemplate": "Report"},
                 status=201)
    run_id = api.ok("POST", f"/api/tasks/{job['id']}/runs", {"params": {}}, status=202)["runId"]

    run = wait_for(lambda: (r := api.ok("GET", f"/api/workflow-runs/{run_id}"))["state"] in ("completed", "failed")
                   and r, what="the run to finish")

    assert run["state"] == "completed", run
    wait_for(lambda: workspace_gone(local_mode, run_id, 1), what="the run's workspace to be removed")
    [archive] = (local_mode.data_dir / "sessions" / "workflow-runs" / run_id).iterdir()
    with tarfile.open(archive, mode="r:gz") as tar:
        assert any(name.endswith(archive.name.replace(".tar.gz", ".jsonl")) for name in tar.getnames())
