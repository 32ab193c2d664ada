"""OpenCode, at the pinned version, through the whole system in local mode against the OpenAI
Responses API stand-in (tests/fakes/openai_api.py), reached through a custom provider: the Optio
secrets OPENAI_BASE_URL and OPENAI_API_KEY point it there, the adapter's config does the rest with
the provider package OpenCode bundles (nothing is installed offline).

OPENCODE_DISABLE_MODELS_FETCH (a secret too) spares each run OpenCode's attempt to download the
models.dev catalogue, which offline only costs seconds.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from optio_runner.agents.opencode import OpenCodeAdapter

from tests.agents.conftest import (
    POD_UID,
    AgentSystem,
    as_pod_user,
    at,
    cli_path,
    start_agent_system,
    task_events,
)
from tests.fakes.openai_api import OpenAIStandIn, conversation, openai_stand_in, request_text
from tests.fakes.scripted_vendor import CWD, Reply, ToolCall

KEY = "sk-proj-opencode-test-key"
# The gateway model the adapter picks when the task names none.
DEFAULT_MODEL = "gpt-5"


def add_file(path: str, text: str) -> ToolCall:
    lines = "".join(f"+{line}\n" for line in text.splitlines())
    return ToolCall("apply_patch", {"patchText": f"*** Begin Patch\n*** Add File: {path}\n{lines}*** End Patch"})


def bash(command: str) -> ToolCall:
    return ToolCall("bash", {"command": command, "description": "Run a command"})


def usage(replies: list[Reply]) -> tuple[int, int]:
    return sum(reply.input_tokens for reply in replies), sum(reply.output_tokens for reply in replies)


@pytest.fixture(scope="module")
def vendor() -> Iterator[OpenAIStandIn]:
    stand_in = openai_stand_in([], api_key=KEY).start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def system(agent_tmp: Path, vendor: OpenAIStandIn) -> Iterator[AgentSystem]:
    agents = start_agent_system(agent_tmp, "opencode", "opencode")
    agents.set_secret("OPENAI_API_KEY", KEY)
    agents.set_secret("OPENAI_BASE_URL", vendor.url + "/v1")
    agents.set_secret("OPENCODE_DISABLE_MODELS_FETCH", "1")
    yield agents
    agents.mode.stop()




def test_task_edits_a_file_and_runs_a_command(system: AgentSystem, vendor: OpenAIStandIn) -> None:
    script = [
        Reply(text="I'll add the greeting.", tool_calls=(add_file("GREETING.md", "# Hello\n\nHello, world!"),),
              input_tokens=1200, output_tokens=80),
        Reply(tool_calls=(bash("uname -s > SYSTEM.txt && git status --short"),), input_tokens=1400, output_tokens=40),
        # Tools that fail: the log says which and why, and the agent carries on.
        Reply(tool_calls=(ToolCall("read", {"filePath": f"{CWD}/CHANGELOG.md"}), bash("cat CHANGELOG.md")),
              input_tokens=1450, output_tokens=30),
        Reply(text="Added GREETING.md, which says hello.", input_tokens=1500, output_tokens=20),
    ]
    vendor.script(script)
    task = system.create_task("Add a GREETING.md that says hello")
    done = system.wait(task["id"], {"completed", "failed", "needs_attention"})

    assert done["state"] == "completed", done.get("errorMessage")
    assert system.on_branch(done, "GREETING.md") == "# Hello\n\nHello, world!"
    assert system.on_branch(done, "SYSTEM.txt") == "Linux"
    asked = conversation(vendor)
    assert vendor.served == 4 and len(asked) == 4
    # The agent's own calls; its side call for a session title is not part of the session's usage.
    assert (done["inputTokens"], done["outputTokens"]) == usage(script) == (5550, 170)
    # OpenCode has no prices for a gateway's models: unknown, not $0.
    assert done["costUsd"] is None
    assert {seen.body["model"] for seen in asked} == {done["modelUsed"]} == {DEFAULT_MODEL}
    assert {seen.body["prompt_cache_key"] for seen in asked} == {done["sessionId"]}
    assert done["resultSummary"] == "Added GREETING.md, which says hello."
    # The prompt reached the model as written, not quoted.
    assert '"content": [{"type": "input_text", "text": "Add a GREETING.md that says hello"}]' in request_text(asked[0])
    contents = [(line["type"], line["content"]) for line in system.logs(task["id"])]
    assert ("tool_use", 'bash: {"command":"uname -s > SYSTEM.txt && git status --short",'
                        '"description":"Run a command"}') in contents
    assert ("tool_result", "?? GREETING.md\n?? SYSTEM.txt\n") in contents
    assert ("tool_result", "Success. Updated the following files:\nA GREETING.md") in contents
    read_failed = [content for kind, content in contents if kind == "error" and content.startswith("read failed: ")]
    assert len(read_failed) == 1 and "CHANGELOG.md" in read_failed[0]
    assert ("error", "exit 1: cat: CHANGELOG.md: No such file or directory") in contents
    assert ("system", "step 4 finished (stop), cost unknown") in contents
    assert not [content for _, content in contents if content.lstrip().startswith("{")]


def test_resume_continues_the_conversation_in_a_fresh_workspace(system: AgentSystem, vendor: OpenAIStandIn) -> None:
    first_script = [Reply(text="The README looks right to me; I changed nothing.", input_tokens=900, output_tokens=25)]
    vendor.script(first_script)
    task = system.create_task("Check the README for typos")
    first = system.wait(task["id"], {"needs_attention", "completed", "failed"})
    assert first["state"] == "needs_attention", first.get("errorMessage")
    assert (first["inputTokens"], first["outputTokens"]) == usage(first_script)

    second_script = [
        Reply(tool_calls=(add_file("NOTES.md", "Checked."),), input_tokens=1300, output_tokens=35),
        Reply(text="Wrote NOTES.md.", input_tokens=1350, output_tokens=10),
    ]
    vendor.script(second_script)
    system.api.ok("POST", f"/api/tasks/{task['id']}/resume", {"prompt": "Write what you found to NOTES.md"})
    done = system.wait(task["id"], {"completed", "failed", "needs_attention"})

    assert done["state"] == "completed", done.get("errorMessage")
    assert system.on_branch(done, "NOTES.md") == "Checked."
    assert done["sessionId"] == first["sessionId"]
    # The resumed attempt sent the earlier turns: the first prompt and the model's answer to it.
    resumed = request_text(conversation(vendor)[0])
    assert "Check the README for typos" in resumed
    assert "The README looks right to me; I changed nothing." in resumed
    assert "Write what you found to NOTES.md" in resumed
    # Each attempt counts its own calls once.
    assert (done["inputTokens"], done["outputTokens"]) == usage(first_script + second_script)


def test_wrong_key_fails_as_auth_at_once_and_is_not_retried(system: AgentSystem, vendor: OpenAIStandIn) -> None:
    vendor.script([Reply(text="unreachable")])
    system.set_secret("OPENAI_API_KEY", "sk-not-the-key")
    try:
        task = system.create_task("Add a GREETING.md that says hello")
        failed = system.wait(task["id"], {"failed", "completed", "needs_attention"})
    finally:
        system.set_secret("OPENAI_API_KEY", KEY)

    assert failed["state"] == "failed" and failed["errorKind"] == "auth"
    assert failed["errorMessage"] is not None and "OPENAI_API_KEY" in failed["errorMessage"]
    assert "Incorrect API key provided" in failed["errorMessage"]
    assert vendor.served == 0 and vendor.refused
    assert {status for _, status in vendor.refused} == {401}
    first_refusal = datetime.fromtimestamp(min(when for when, _ in vendor.refused)).astimezone()
    entered_failed = [at(event["at"]) for event in task_events(system, task["id"]) if event["to"] == "failed"]
    assert len(entered_failed) == 1
    # At once: the vendor was called only before the failure (no retrying after it), by one attempt.
    last_refusal = datetime.fromtimestamp(max(when for when, _ in vendor.refused)).astimezone()
    assert first_refusal <= last_refusal <= entered_failed[0]
    logs = system.logs(task["id"])
    assert {line["attempt"] for line in logs} == {1}
    assert system.api.task(task["id"])["state"] == "failed"
    assert "sk-not-the-key" not in json.dumps(logs)


def test_the_pods_uid_may_edit_and_run_commands(vendor: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    """Local mode runs the agent as root; the pod runs it as uid 1000. The same switches work
    there: the CLI, set up by the adapter and run as that uid, writes and runs without a prompt."""
    vendor.script([
        Reply(tool_calls=(add_file("POD.md", "pod"),)),
        Reply(tool_calls=(bash("id -u > UID.txt"),)),
        Reply(text="Done as the pod's user."),
    ])
    # The adapter reads the gateway from the runner's environment, where the task's secrets are.
    monkeypatch.setenv("OPENAI_BASE_URL", vendor.url + "/v1")
    env = {"OPENAI_API_KEY": KEY, "OPENCODE_DISABLE_MODELS_FETCH": "1"}
    with as_pod_user(OpenCodeAdapter(), str(cli_path("opencode")), env) as pod:
        assert pod.result.success and pod.collected.permission_denied is None, (pod.result, pod.stderr)
        assert (pod.work / "POD.md").read_text() == "pod\n"
        assert (pod.work / "UID.txt").read_text() == f"{POD_UID}\n"
