"""Claude Code, the real CLI at the pinned version, through the whole system in local mode against
the Anthropic Messages API stand-in (tests/fakes/anthropic_api.py), offline.

One local mode for the module; each test points the agent at its own stand-in through the
ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY secrets, as a user would.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from optio_runner.agents.claude_code import ClaudeCodeAdapter

from chalicelib.core import failures
from tests.agents.conftest import (
    POD_UID,
    TASK_TIMEOUT_S,
    AgentSystem,
    as_pod_user,
    cli_path,
    start_agent_system,
)
from tests.fakes.anthropic_api import TOUR_SCRIPT, anthropic_stand_in, conversation, text_of
from tests.fakes.scripted_vendor import Reply, ToolCall, VendorStandIn
from tests.support.waiting import wait_for

pytestmark = pytest.mark.xdist_group("agents-claude-code")

MODEL = "claude-sonnet-4-5-20250929"
# The list price of MODEL per token, in dollars: what the CLI charges the usage it is told of.
INPUT_PRICE, OUTPUT_PRICE = 3e-6, 15e-6
KEY = "sk-ant-test-key"
# The README's tour task.
TOUR_PROMPT = "Add a GREETING.md that says hello"


@pytest.fixture(scope="module")
def system(agent_tmp: Path) -> Iterator[AgentSystem]:
    started = start_agent_system(agent_tmp, "claude-code", "claude")
    try:
        yield started
    finally:
        started.mode.stop()


def serve(system: AgentSystem, replies: list[Reply], key: str = KEY) -> VendorStandIn:
    stand_in = anthropic_stand_in(replies, api_key=KEY).start()
    system.set_secret("ANTHROPIC_BASE_URL", stand_in.url)
    system.set_secret("ANTHROPIC_API_KEY", key)
    return stand_in


def price(replies: list[Reply]) -> float:
    return sum(r.input_tokens * INPUT_PRICE + r.output_tokens * OUTPUT_PRICE for r in replies)


def registered_repo(system: AgentSystem) -> dict[str, Any]:
    """The module's repository as registered (a task registers it too; 409 says it already is)."""
    response = system.api.post("/api/repos", {"repoUrl": str(system.repo)})
    assert response.status_code in (201, 409), response.text
    repo_id = response.json()["id"] if response.status_code == 201 else response.json()["existingId"]
    repo: dict[str, Any] = system.api.ok("GET", f"/api/repos/{repo_id}")
    return repo


def lines_of(system: AgentSystem, task_id: str, kind: str) -> list[str]:
    return [line["content"] for line in system.logs(task_id) if line["type"] == kind]


def test_tour_task_writes_the_file_runs_a_command_and_reports_what_the_api_said(system: AgentSystem) -> None:
    # A rate limit first: the CLI retries it and the log says so in words.
    stand_in = serve(system, TOUR_SCRIPT)
    stand_in.refusals = [429]
    try:
        task = system.create_task(TOUR_PROMPT, model=MODEL)
        done = system.wait(task["id"], {"completed", "failed", "needs_attention"})
    finally:
        stand_in.stop()

    assert done["state"] == "completed", (done.get("errorMessage"), system.logs(task["id"])[-15:])
    assert system.on_branch(done, "GREETING.md") == "# Hello\n\nHello, world!"
    calls = conversation(stand_in)
    assert len(calls) == 1 + len(TOUR_SCRIPT)  # the refused call, then one per reply
    assert done["costUsd"] == pytest.approx(price(TOUR_SCRIPT))
    assert (done["inputTokens"], done["outputTokens"]) == (4100, 140)
    assert done["modelUsed"] == MODEL == calls[-1].body["model"]
    assert done["sessionId"] == calls[-1].headers["X-Claude-Code-Session-Id"]
    # The Bash call ran in the checkout: its output went back to the model.
    assert "?? GREETING.md" in text_of(calls[-1].body["messages"][-1])
    tool_uses = lines_of(system, task["id"], "tool_use")
    assert [use.split(":")[0] for use in tool_uses] == ["Write", "Bash"]
    retries = lines_of(system, task["id"], "retry")
    assert retries and retries[0].startswith("API call failed (429: rate_limit); retry 1 of 10")
    assert not lines_of(system, task["id"], "permission")


def test_resume_after_needs_attention_continues_the_conversation_in_a_fresh_workspace(
    system: AgentSystem,
) -> None:
    first = [
        # A failing tool call, then a question instead of a change: the task needs attention.
        Reply(tool_calls=(ToolCall("Bash", {"command": "cat GREETING.md", "description": "Look for it"}),),
              input_tokens=900, output_tokens=30),
        Reply(text="Which language should the greeting be in?", input_tokens=1000, output_tokens=12),
    ]
    second = [
        Reply(tool_calls=(ToolCall("Write", {"file_path": "{cwd}/GREETING.md", "content": "Hallo!\n"}),),
              input_tokens=1300, output_tokens=40),
        Reply(text="GREETING.md now says hello in German.", input_tokens=1400, output_tokens=15),
    ]
    stand_in = serve(system, first + second)
    try:
        task = system.create_task("Add a GREETING.md that says hello, in the right language", model=MODEL)
        asked = system.wait(task["id"], {"completed", "failed", "needs_attention"})
        assert asked["state"] == "needs_attention", asked.get("errorMessage")
        failed_tool = [line for line in lines_of(system, task["id"], "error") if line.startswith("Bash failed")]
        assert failed_tool == ["Bash failed: Exit code 1\ncat: GREETING.md: No such file or directory"]
        session = asked["sessionId"]

        system.api.ok("POST", f"/api/tasks/{task['id']}/resume", {"prompt": "German, please."})
        done = system.wait(task["id"], {"completed", "failed"})
    finally:
        stand_in.stop()

    assert done["state"] == "completed", (done.get("errorMessage"), system.logs(task["id"])[-15:])
    assert system.on_branch(done, "GREETING.md") == "Hallo!"
    calls = conversation(stand_in)
    assert len(calls) == len(first) + len(second)
    resumed = calls[len(first)]
    said = [text_of(message) for message in resumed.body["messages"]]
    # The earlier turns went back to the model, then the new prompt.
    assert any("Which language should the greeting be in?" in text for text in said)
    assert "German, please." in said[-1]
    assert resumed.headers["X-Claude-Code-Session-Id"] == session == done["sessionId"]
    assert "that says hello, in the right language" in said[0]  # the first attempt's prompt
    # Each attempt counted its own calls once: the resumed session's past is not counted again.
    assert done["costUsd"] == pytest.approx(price(first + second))
    assert (done["inputTokens"], done["outputTokens"]) == (
        sum(r.input_tokens for r in first + second), sum(r.output_tokens for r in first + second))


def test_wrong_key_fails_as_auth_at_the_first_refusal_and_is_not_retried(system: AgentSystem) -> None:
    stand_in = serve(system, TOUR_SCRIPT, key="sk-ant-wrong")
    try:
        task = system.create_task("Say hello with a wrong key", model=MODEL, maxRetries=2)
        failed = system.wait(task["id"], {"completed", "failed", "needs_attention"})
        events = system.api.ok("GET", f"/api/tasks/{task['id']}/events")
    finally:
        stand_in.stop()

    assert (failed["state"], failed["errorKind"]) == ("failed", "auth"), failed.get("errorMessage")
    assert "could not authenticate" in failed["errorMessage"]
    refusals = conversation(stand_in)
    # Stopped at the CLI's first retry of the refusal, not after its ten.
    assert 1 <= len(refusals) <= 2
    # An auth failure is final: no second attempt was started, nor will the policy start one.
    assert not failures.FailureKind.parse(failed["errorKind"]).retryable
    assert [e["to"] for e in _items(events)].count("running") == 1
    retries = lines_of(system, task["id"], "retry")
    assert retries and all(not line.startswith("{") for line in retries)


def _items(events: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = events["items"] if isinstance(events, dict) else events
    return items


def test_turn_limit_ends_in_needs_attention_saying_so(system: AgentSystem) -> None:
    repo = registered_repo(system)
    stand_in = serve(system, TOUR_SCRIPT)
    system.api.ok("PATCH", f"/api/repos/{repo['id']}", {"maxTurnsCoding": 1})
    try:
        task = system.create_task(TOUR_PROMPT + " (in one turn)", model=MODEL)
        stopped = system.wait(task["id"], {"completed", "failed", "needs_attention"})
    finally:
        system.api.ok("PATCH", f"/api/repos/{repo['id']}", {"maxTurnsCoding": repo["maxTurnsCoding"]})
        stand_in.stop()

    assert (stopped["state"], stopped["errorKind"]) == ("needs_attention", "max_turns")
    assert stopped["errorMessage"] == "agent stopped at the maximum number of turns (1)"
    # The turn it had was not lost: its file is on the branch for whoever resumes.
    assert system.on_branch(stopped, "GREETING.md") == "# Hello\n\nHello, world!"
    assert "Reached maximum number of turns (1)" in lines_of(system, task["id"], "error")


def test_an_api_that_stays_overloaded_fails_as_rate_limited(system: AgentSystem) -> None:
    stand_in = serve(system, TOUR_SCRIPT)
    stand_in.refuse_always = 529
    # The CLI's own retries, cut to one so that it gives up at once.
    system.set_secret("CLAUDE_CODE_MAX_RETRIES", "1")
    try:
        task = system.create_task("Say hello to an overloaded API", model=MODEL, maxRetries=0)
        failed = system.wait(task["id"], {"completed", "failed", "needs_attention"})
    finally:
        system.api.request("DELETE", "/api/secrets/CLAUDE_CODE_MAX_RETRIES")
        stand_in.stop()

    assert (failed["state"], failed["errorKind"]) == ("failed", "rate_limited"), failed.get("errorMessage")
    assert "529" in failed["errorMessage"]
    assert failures.FailureKind.RATE_LIMITED.retryable
    retries = [line.split(" in ")[0] for line in lines_of(system, task["id"], "retry")]
    assert retries == ["API call failed (529: overloaded); retry 1 of 1"]


def test_a_standalone_runs_budget_stops_the_cli_after_the_call_that_passes_it(system: AgentSystem) -> None:
    # $0.0075 a call: the first leaves some of the $0.01, the second passes it.
    script = [dataclasses.replace(reply, input_tokens=2000, output_tokens=100) for reply in TOUR_SCRIPT]
    stand_in = serve(system, script)
    try:
        job = system.api.ok("POST", "/api/jobs", {
            "type": "standalone", "name": "greeting-on-a-budget", "promptTemplate": TOUR_PROMPT,
            "agentRuntime": "claude-code", "model": MODEL, "budgetUsd": 0.01, "maxRetries": 0,
        }, status=201)
        run_id = system.api.ok("POST", f"/api/tasks/{job['id']}/runs", {"params": {}}, status=202)["runId"]
        run = wait_for(lambda: _finished_run(system, run_id), TASK_TIMEOUT_S, what=f"run {run_id} to finish")
    finally:
        stand_in.stop()

    assert (run["state"], run["errorKind"]) == ("failed", "budget"), run
    assert run["errorMessage"].startswith("budget exceeded")
    # Two calls of the three the task needed.
    assert len(conversation(stand_in)) == 2
    assert run["costUsd"] == pytest.approx(price(script[:2]))


def _finished_run(system: AgentSystem, run_id: str) -> dict[str, Any] | None:
    run: dict[str, Any] = system.api.ok("GET", f"/api/workflow-runs/{run_id}")
    return run if run["state"] in ("completed", "failed") else None


def test_bedrock_switch_uses_the_tasks_model_id_without_the_api_key(system: AgentSystem) -> None:
    # On AWS the pod's IAM role signs the requests; here the CLI skips signing
    # (CLAUDE_CODE_SKIP_BEDROCK_AUTH) and its Bedrock endpoint is the stand-in.
    bedrock_model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    stand_in = serve(system, TOUR_SCRIPT)
    switch = {"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "us-east-1",
              "ANTHROPIC_BEDROCK_BASE_URL": stand_in.url, "CLAUDE_CODE_SKIP_BEDROCK_AUTH": "1"}
    try:
        for name, value in switch.items():
            system.set_secret(name, value)
        task = system.create_task(TOUR_PROMPT + " (through Bedrock)", model=bedrock_model)
        done = system.wait(task["id"], {"completed", "failed", "needs_attention"})
    finally:
        for name in switch:
            system.api.request("DELETE", f"/api/secrets/{name}")
        stand_in.stop()

    assert done["state"] == "completed", (done.get("errorMessage"), system.logs(task["id"])[-15:])
    assert system.on_branch(done, "GREETING.md") == "# Hello\n\nHello, world!"
    calls = conversation(stand_in)
    assert len(calls) == len(TOUR_SCRIPT)
    # Every model call went to Bedrock's streaming invoke of the chosen model, with no API key.
    assert {call.path for call in calls} == {f"/model/{bedrock_model}/invoke-with-response-stream"}
    assert not any("x-api-key" in {h.lower() for h in call.headers} for call in stand_in.requests)
    assert done["modelUsed"] == bedrock_model
    assert done["costUsd"] == pytest.approx(price(TOUR_SCRIPT))


def test_as_the_pod_user_the_cli_takes_the_same_permission_mode_without_the_sandbox_flag() -> None:
    stand_in = anthropic_stand_in(TOUR_SCRIPT, api_key=KEY).start()
    try:
        adapter = ClaudeCodeAdapter()
        env = {"ANTHROPIC_BASE_URL": stand_in.url, "ANTHROPIC_API_KEY": KEY}
        with as_pod_user(adapter, str(cli_path("claude")), env, prompt=TOUR_PROMPT, model=MODEL) as pod:
            assert "IS_SANDBOX" not in pod.env
            assert pod.result.success, (pod.result.error, pod.stderr)
            assert pod.collected.permission_denied is None
            assert (pod.work / "GREETING.md").read_text() == "# Hello\n\nHello, world!\n"
            assert (pod.work / "GREETING.md").stat().st_uid == POD_UID
            # The session landed where the runner saves it from.
            assert list((pod.home / adapter.session_dirs[0]).glob(f"*/{pod.result.session_id}.jsonl"))
    finally:
        stand_in.stop()
