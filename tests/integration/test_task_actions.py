"""Lifecycle actions, queue control, dependencies and subtasks over HTTP (SPEC §3, §4, §6)."""
from __future__ import annotations

import uuid
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import Api
from tests.support.gitrepo import branch_file
from tests.support.localmode import LocalMode
from tests.support.waiting import wait_for

pytestmark = pytest.mark.xdist_group("stack")


def new_task(api: Api, repo: dict[str, Any], prompt: str, **fields: Any) -> dict[str, Any]:
    body = {"title": fields.pop("title", "Task"), "prompt": prompt, "repoId": repo["id"], **fields}
    return api.ok("POST", "/api/tasks", body, status=201)  # type: ignore[no-any-return]


def runs_of(stack: LocalMode, task_id: str) -> list[dict[str, Any]]:
    return [r for r in stack.agent_runs() if task_id in str(r["cwd"])]


def test_patch_changes_editable_fields_and_refuses_while_running(api: Api, repo: dict[str, Any]) -> None:
    task = new_task(api, repo, "[fake:sleep=30] slow")
    api.wait_state(task["id"], "running")
    refused = api.request("PATCH", f"/api/tasks/{task['id']}", json={"title": "renamed"})
    assert refused.status_code == 409 and refused.json()["state"] == "running"
    moved = api.ok("PATCH", f"/api/tasks/{task['id']}", {"priority": 7})
    assert moved["priority"] == 7 and moved["title"] == "Task"
    bad = api.request("PATCH", f"/api/tasks/{task['id']}", json={"priority": "high"})
    assert bad.status_code == 400 and bad.json()["details"][0]["field"] == "priority"
    api.ok("POST", f"/api/tasks/{task['id']}/cancel")


def test_delete_refuses_an_active_task_then_removes_it(api: Api, repo: dict[str, Any]) -> None:
    task = new_task(api, repo, "[fake:sleep=30] slow")
    api.wait_state(task["id"], "running")
    refused = api.request("DELETE", f"/api/tasks/{task['id']}")
    assert refused.status_code == 409 and refused.json()["state"] == "running"
    api.ok("POST", f"/api/tasks/{task['id']}/cancel")
    assert api.request("DELETE", f"/api/tasks/{task['id']}").status_code == 204
    assert api.get(f"/api/tasks/{task['id']}").status_code == 404


def test_resume_continues_the_agent_session_with_the_new_prompt(
    api: Api, repo: dict[str, Any], stack: LocalMode
) -> None:
    task = new_task(api, repo, "[fake:noop] look around", maxRetries=0)
    first = api.wait_state(task["id"], "needs_attention")
    assert first["errorMessage"] == "completed without changes"
    wrong = api.post(f"/api/tasks/{task['id']}/resume", {})
    assert wrong.status_code == 400 and wrong.json()["details"][0]["field"] == "prompt"
    api.ok("POST", f"/api/tasks/{task['id']}/resume", {"prompt": "now write the file"})
    done = api.wait_state(task["id"], "completed")
    assert done["errorMessage"] is None
    last = runs_of(stack, task["id"])[-1]
    assert "--resume" in last["argv"] and first["sessionId"] in last["argv"]
    assert "now write the file" in last["argv"]
    again = api.post(f"/api/tasks/{task['id']}/resume", {"prompt": "more"})
    assert again.status_code == 409 and again.json()["state"] == "completed"


def test_force_restart_builds_a_prompt_from_what_is_known(
    api: Api, repo: dict[str, Any], stack: LocalMode
) -> None:
    task = new_task(api, repo, "[fake:fail] try", maxRetries=0)
    api.wait_state(task["id"], "failed")
    api.ok("POST", f"/api/tasks/{task['id']}/force-restart", {})
    api.wait_state(task["id"], "failed")
    prompt = runs_of(stack, task["id"])[-1]["argv"]
    text = prompt[prompt.index("-p") + 1]
    assert "existing branch" in text and "simulated failure" in text
    assert "--resume" not in prompt


def test_cost_and_tokens_add_up_over_the_attempts(api: Api, repo: dict[str, Any], tmp_path: Path) -> None:
    flag = tmp_path / f"failed-once-{uuid.uuid4().hex}"
    task = new_task(api, repo, f"[fake:fail-once={flag}] [fake:cost=0.25] flaky work", maxRetries=1)
    done = api.wait_state(task["id"], "completed")
    assert done["attempt"] == 2
    # Each attempt's own figures (the stand-in reports 1200 in, 340 out, $0.25), added up.
    assert done["costUsd"] == pytest.approx(0.5)
    assert (done["inputTokens"], done["outputTokens"]) == (2400, 680)


def test_a_turn_limit_needs_attention_and_says_so(api: Api, repo: dict[str, Any]) -> None:
    task = new_task(api, repo, "[fake:max-turns] long work", maxRetries=2)
    stopped = api.wait_state(task["id"], "needs_attention")
    assert stopped["attempt"] == 1 and stopped["errorKind"] == "max_turns"
    assert "maximum number of turns" in stopped["errorMessage"]


def test_force_redo_clears_the_previous_run(api: Api, repo: dict[str, Any]) -> None:
    task = new_task(api, repo, "[fake:fail] try", maxRetries=0)
    failed = api.wait_state(task["id"], "failed")
    assert failed["costUsd"] and api.logs(task["id"])
    redone = api.ok("POST", f"/api/tasks/{task['id']}/force-redo")
    assert redone["state"] == "queued" and redone["costUsd"] is None
    api.wait_state(task["id"], "failed")
    events = api.ok("GET", f"/api/tasks/{task['id']}/events")["items"]
    assert any(e["trigger"] == "force_redo" for e in events)
    assert {line["attempt"] for line in api.logs(task["id"])} == {2}


def test_review_needs_a_pull_request(api: Api, repo: dict[str, Any]) -> None:
    task = new_task(api, repo, "[fake:noop]")
    response = api.post(f"/api/tasks/{task['id']}/review")
    assert response.status_code == 400 and response.json()["details"][0]["field"] == "prUrl"


def test_runs_and_triggers_are_not_for_repo_tasks(api: Api, repo: dict[str, Any]) -> None:
    task = new_task(api, repo, "[fake:noop]")
    for path in ("runs", "triggers"):
        response = api.get(f"/api/tasks/{task['id']}/{path}")
        assert response.status_code == 405 and response.json()["type"] == "repo-task"
    assert api.get(f"/api/tasks/{uuid.uuid4()}/runs").status_code == 404


def test_bulk_retry_failed_and_cancel_active(api: Api, repo: dict[str, Any]) -> None:
    failing = [new_task(api, repo, "[fake:fail]", maxRetries=0) for _ in range(2)]
    for task in failing:
        api.wait_state(task["id"], "failed")
    retried = api.ok("POST", "/api/tasks/bulk/retry-failed")
    assert retried["affected"] >= 2 and retried["total"] >= retried["affected"]
    slow = [new_task(api, repo, "[fake:sleep=30]") for _ in range(2)]
    for task in slow:
        api.wait_state(task["id"], "running")
    cancelled = api.ok("POST", "/api/tasks/bulk/cancel-active")
    assert cancelled["affected"] >= 2
    for task in slow:
        assert api.task(task["id"])["state"] == "cancelled"


def test_a_task_waits_for_its_dependency_then_runs(api: Api, repo: dict[str, Any]) -> None:
    first = new_task(api, repo, "[fake:sleep=1] [fake:file=a.txt] first", title="First")
    second = new_task(api, repo, "[fake:file=b.txt] second", title="Second", dependsOn=[first["id"]])
    assert api.wait_state(second["id"], "waiting_on_deps")["dependsOn"] == [first["id"]]
    done_first = api.wait_state(first["id"], "completed")
    done_second = api.wait_state(second["id"], "completed")
    assert done_second["startedAt"] >= done_first["completedAt"]
    assert [t["id"] for t in api.ok("GET", f"/api/tasks/{first['id']}/dependents")["items"]] == [second["id"]]
    assert [t["id"] for t in api.ok("GET", f"/api/tasks/{second['id']}/dependencies")["items"]] == [first["id"]]


def test_unknown_and_self_dependencies_are_refused(api: Api, repo: dict[str, Any]) -> None:
    unknown = api.post("/api/tasks", {"title": "x", "prompt": "y", "repoId": repo["id"],
                                      "dependsOn": [str(uuid.uuid4())]})
    assert unknown.status_code == 400 and unknown.json()["details"][0]["field"] == "dependsOn"
    blocker = new_task(api, repo, "[fake:sleep=30]")
    waiting = new_task(api, repo, "[fake:noop]", dependsOn=[blocker["id"]])
    api.wait_state(waiting["id"], "waiting_on_deps")
    itself = api.post(f"/api/tasks/{waiting['id']}/dependencies", {"dependsOnIds": [waiting["id"]]})
    assert itself.status_code == 400 and "itself" in itself.json()["details"][0]["problem"]
    api.ok("POST", f"/api/tasks/{blocker['id']}/cancel")


def test_a_cycle_of_three_is_refused_and_named(api: Api, repo: dict[str, Any]) -> None:
    blocker = new_task(api, repo, "[fake:sleep=30]")
    a = new_task(api, repo, "[fake:noop]", title="A", dependsOn=[blocker["id"]])
    b = new_task(api, repo, "[fake:noop]", title="B", dependsOn=[a["id"]])
    c = new_task(api, repo, "[fake:noop]", title="C", dependsOn=[b["id"]])
    api.wait_state(a["id"], "waiting_on_deps")
    response = api.post(f"/api/tasks/{a['id']}/dependencies", {"dependsOnIds": [c["id"]]})
    assert response.status_code == 400, response.text
    assert response.json()["cycle"] == [a["id"], c["id"], b["id"], a["id"]]
    assert f"{a['id']} -> {c['id']} -> {b['id']} -> {a['id']}" in response.json()["details"][0]["problem"]
    assert api.task(a["id"])["dependsOn"] == [blocker["id"]]
    api.ok("POST", f"/api/tasks/{blocker['id']}/cancel")


def test_a_failure_cascades_through_two_levels(api: Api, repo: dict[str, Any]) -> None:
    root = new_task(api, repo, "[fake:fail]", title="Root", maxRetries=0)
    middle = new_task(api, repo, "[fake:noop]", title="Middle", dependsOn=[root["id"]])
    leaf = new_task(api, repo, "[fake:noop]", title="Leaf", dependsOn=[middle["id"]])
    assert api.wait_state(middle["id"], "failed")["errorMessage"] == f"dependency {root['id']} failed"
    assert api.wait_state(leaf["id"], "failed")["errorMessage"] == f"dependency {middle['id']} failed"


def test_removing_the_last_dependency_releases_the_task(api: Api, repo: dict[str, Any]) -> None:
    blocker = new_task(api, repo, "[fake:sleep=30]")
    waiting = new_task(api, repo, "[fake:noop]", dependsOn=[blocker["id"]])
    api.wait_state(waiting["id"], "waiting_on_deps")
    api.ok("DELETE", f"/api/tasks/{waiting['id']}/dependencies/{blocker['id']}")
    api.wait_state(waiting["id"], "needs_attention")
    api.ok("POST", f"/api/tasks/{blocker['id']}/cancel")


def test_a_step_pipeline_runs_in_order_and_completes_the_parent(api: Api, repo: dict[str, Any]) -> None:
    parent = new_task(api, repo, "[fake:noop] plan the work", title="Pipeline")
    steps = [
        api.ok("POST", f"/api/tasks/{parent['id']}/subtasks",
               {"title": f"Step {i}", "prompt": f"[fake:sleep=0.3] [fake:file=step{i}.txt] step {i}",
                "taskType": "step"}, status=201)
        for i in range(1, 4)
    ]
    assert [s["subtaskOrder"] for s in steps] == [1, 2, 3]
    assert all(s["branchName"] == parent["branchName"] and s["parentId"] == parent["id"] for s in steps)
    done = api.wait_state(parent["id"], "completed", timeout_s=60)
    finished = [api.task(s["id"]) for s in steps]
    assert all(s["state"] == "completed" for s in finished)
    for before, after in pairwise(finished):
        assert after["startedAt"] >= before["completedAt"]
    bare = Path(repo["repoUrl"].removeprefix("file://"))
    assert all(branch_file(bare, parent["branchName"], f"step{i}.txt") for i in range(1, 4))
    assert "pipeline steps completed" in api.ok("GET", f"/api/tasks/{done['id']}/events")["items"][-1]["message"]
    status = api.ok("GET", f"/api/tasks/{parent['id']}/subtasks/status")
    assert status == {"allComplete": True, "total": 3, "pending": 0, "running": 0, "completed": 3, "failed": 0}
    assert api.task(parent["id"])["subtaskStatus"] == status
    listed = api.ok("GET", f"/api/tasks/{parent['id']}/subtasks")["items"]
    assert [s["id"] for s in listed] == [s["id"] for s in steps]


def test_a_failed_step_stops_the_pipeline(api: Api, repo: dict[str, Any]) -> None:
    parent = new_task(api, repo, "[fake:noop] plan", title="Broken pipeline")
    first = api.ok("POST", f"/api/tasks/{parent['id']}/subtasks",
                   {"title": "Breaks", "prompt": "[fake:fail]", "taskType": "step", "maxRetries": 0},
                   status=201)
    second = api.ok("POST", f"/api/tasks/{parent['id']}/subtasks",
                    {"title": "Never runs", "prompt": "[fake:noop]", "taskType": "step"}, status=201)
    assert api.wait_state(second["id"], "failed")["errorMessage"] == f"dependency {first['id']} failed"
    status = wait_for(lambda: (s := api.ok("GET", f"/api/tasks/{parent['id']}/subtasks/status"))["failed"] == 2 and s)
    assert status["allComplete"] is False
    assert api.task(parent["id"])["state"] == "needs_attention"


def test_subtask_validation(api: Api, repo: dict[str, Any]) -> None:
    parent = new_task(api, repo, "[fake:noop]")
    bad = api.post(f"/api/tasks/{parent['id']}/subtasks", {"title": "x", "prompt": "y", "taskType": "epic"})
    assert bad.status_code == 400 and bad.json()["details"][0]["field"] == "taskType"
    assert api.post(f"/api/tasks/{uuid.uuid4()}/subtasks", {"title": "x", "prompt": "y"}).status_code == 404


def test_repo_settings_patch_and_delete(api: Api, repo: dict[str, Any]) -> None:
    patched = api.ok("PATCH", f"/api/repos/{repo['id']}", {"autoMerge": True, "maxConcurrentTasks": 3,
                                                           "setupCommands": ["true"]})
    assert patched["autoMerge"] is True and patched["maxConcurrentTasks"] == 3
    bad = api.request("PATCH", f"/api/repos/{repo['id']}", json={"reviewTrigger": "sometimes",
                                                                 "repoUrl": "x"})
    assert bad.status_code == 400
    assert {d["field"] for d in bad.json()["details"]} == {"reviewTrigger", "repoUrl"}
    task = new_task(api, repo, "[fake:sleep=30]")
    api.wait_state(task["id"], "running")
    busy = api.request("DELETE", f"/api/repos/{repo['id']}")
    assert busy.status_code == 409 and busy.json()["taskIds"] == [task["id"]]
    api.ok("POST", f"/api/tasks/{task['id']}/cancel")
    assert api.request("DELETE", f"/api/repos/{repo['id']}").status_code == 204
    again = api.ok("POST", "/api/repos", {"repoUrl": repo["repoUrl"]}, status=201)
    assert again["id"] != repo["id"]
