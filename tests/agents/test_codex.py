"""Codex, at the pinned version, through the whole system in local mode against the OpenAI
Responses API stand-in (tests/fakes/openai_api.py): the Optio secrets OPENAI_BASE_URL and
OPENAI_API_KEY point it there (the adapter writes them into a custom model provider, as Codex
ignores OPENAI_BASE_URL itself).

Codex 0.169 offers the model one freeform tool, `exec`: JavaScript whose `tools.apply_patch` and
`tools.exec_command` edit files and run commands, so the scripts call those.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from optio_runner.agents.codex import CodexAdapter

from tests.agents.conftest import (
    POD_UID,
    AgentSystem,
    as_pod_user,
    at,
    cli_path,
    start_agent_system,
    task_events,
)
from tests.fakes.openai_api import OpenAIStandIn, codex_exec, conversation, openai_stand_in, request_text
from tests.fakes.scripted_vendor import Reply

KEY = "sk-proj-codex-test-key"


def add_file(path: str, text: str) -> str:
    """The JavaScript that adds a file through Codex's apply_patch."""
    lines = "".join(f"+{line}\n" for line in text.splitlines())
    patch = f"*** Begin Patch\n*** Add File: {path}\n{lines}*** End Patch\n"
    return f"await tools.apply_patch({json.dumps(patch)});"


def exec_js(*statements: str) -> str:
    return "\n".join(statements)


@pytest.fixture(scope="module")
def vendor() -> Iterator[OpenAIStandIn]:
    stand_in = openai_stand_in([], api_key=KEY).start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def system(agent_tmp: Path, vendor: OpenAIStandIn) -> Iterator[AgentSystem]:
    agents = start_agent_system(agent_tmp, "codex", "codex")
    agents.set_secret("OPENAI_API_KEY", KEY)
    agents.set_secret("OPENAI_BASE_URL", vendor.url + "/v1")
    yield agents
    agents.mode.stop()




def test_task_edits_a_file_and_runs_a_command(system: AgentSystem, vendor: OpenAIStandIn) -> None:
    vendor.script([
        Reply(text="I'll add the greeting.",
              tool_calls=(codex_exec(exec_js(
                  add_file("GREETING.md", "# Hello\n\nHello, world!"),
                  "const ran = await tools.exec_command({cmd: 'uname -s > SYSTEM.txt && git status --short'});",
                  "text(ran.output);",
              )),),
              input_tokens=1200, output_tokens=80),
        # A command that fails: the log says so, and the agent carries on.
        Reply(tool_calls=(codex_exec("text((await tools.exec_command({cmd: 'cat CHANGELOG.md'})).output);"),),
              input_tokens=1400, output_tokens=40),
        Reply(text="Added GREETING.md, which says hello.", input_tokens=1500, output_tokens=20),
    ])
    task = system.create_task("Add a GREETING.md that says hello")
    done = system.wait(task["id"], {"completed", "failed", "needs_attention"})

    assert done["state"] == "completed", done.get("errorMessage")
    assert system.on_branch(done, "GREETING.md") == "# Hello\n\nHello, world!"
    assert system.on_branch(done, "SYSTEM.txt") == "Linux"
    # What the API reported; OpenAI reports no dollars, so neither does Codex.
    asked = conversation(vendor)
    assert vendor.served == 3 and len(asked) == 3
    assert (done["inputTokens"], done["outputTokens"]) == vendor.reported_tokens() == (4100, 140)
    assert done["costUsd"] is None
    # The task named no model: the one Codex asked for is its default, from its session file.
    assert {seen.body["model"] for seen in asked} == {done["modelUsed"]}
    assert {seen.body["prompt_cache_key"] for seen in asked} == {done["sessionId"]}
    assert done["resultSummary"] == "Added GREETING.md, which says hello."
    logs = system.logs(task["id"])
    contents = [(line["type"], line["content"]) for line in logs]
    assert ("system", f"session {done['sessionId']} started") in contents
    assert ("tool_use", "shell: /bin/bash -lc 'uname -s > SYSTEM.txt && git status --short'") in contents
    assert ("tool_result", "exit 0: ?? GREETING.md\n?? SYSTEM.txt") in contents
    assert any(kind == "tool_use" and content.startswith("apply_patch: add ") and content.endswith("/GREETING.md")
               for kind, content in contents)
    assert ("error", "exit 1: cat: CHANGELOG.md: No such file or directory") in contents
    assert not [content for _, content in contents if content.lstrip().startswith("{")]


def test_resume_continues_the_conversation_in_a_fresh_workspace(system: AgentSystem, vendor: OpenAIStandIn) -> None:
    vendor.script([Reply(text="The README looks right to me; I changed nothing.", input_tokens=900, output_tokens=25)])
    task = system.create_task("Check the README for typos")
    first = system.wait(task["id"], {"needs_attention", "completed", "failed"})
    assert first["state"] == "needs_attention", first.get("errorMessage")
    first_tokens = vendor.reported_tokens()
    assert (first["inputTokens"], first["outputTokens"]) == first_tokens == (900, 25)

    vendor.script([
        Reply(tool_calls=(codex_exec(add_file("NOTES.md", "Checked.")),),
              input_tokens=1300, output_tokens=35),
        Reply(text="Wrote NOTES.md.", input_tokens=1350, output_tokens=10),
    ])
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
    # Each attempt counts its own calls once, though Codex reports the thread's running totals.
    second_tokens = vendor.reported_tokens()
    assert second_tokens == (2650, 45)
    assert (done["inputTokens"], done["outputTokens"]) == (first_tokens[0] + second_tokens[0],
                                                           first_tokens[1] + second_tokens[1])


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
    assert "401 Unauthorized" in failed["errorMessage"]
    assert vendor.served == 0 and vendor.refused
    assert {status for _, status in vendor.refused} == {401}
    first_refusal = datetime.fromtimestamp(min(when for when, _ in vendor.refused)).astimezone()
    entered_failed = [at(event["at"]) for event in task_events(system, task["id"]) if event["to"] == "failed"]
    assert len(entered_failed) == 1
    # At once: the vendor was called only before the failure (no retrying after it), by one attempt.
    last_refusal = datetime.fromtimestamp(max(when for when, _ in vendor.refused)).astimezone()
    assert first_refusal <= last_refusal <= entered_failed[0]
    # Stopped at the first refusal rather than after the CLI's five reconnects.
    assert len(vendor.refused) < 6
    logs = system.logs(task["id"])
    assert {line["attempt"] for line in logs} == {1}
    assert system.api.task(task["id"])["state"] == "failed"
    assert any(line["type"] == "retry" and "401 Unauthorized" in line["content"] for line in logs)
    assert "sk-not-the-key" not in json.dumps(logs)


def test_the_pods_uid_may_edit_and_run_commands(vendor: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    """Local mode runs the agent as root; the pod runs it as uid 1000. The same switches work
    there: the CLI, set up by the adapter and run as that uid, writes and runs without a prompt."""
    vendor.script([
        Reply(tool_calls=(codex_exec(exec_js(
            add_file("POD.md", "pod"),
            "await tools.exec_command({cmd: 'id -u > UID.txt'});",
        )),)),
        Reply(text="Done as the pod's user."),
    ])
    # The adapter reads the gateway from the runner's environment, where the task's secrets are.
    monkeypatch.setenv("OPENAI_BASE_URL", vendor.url + "/v1")
    with as_pod_user(CodexAdapter(), str(cli_path("codex")), {"OPENAI_API_KEY": KEY}) as pod:
        assert pod.result.success and pod.collected.permission_denied is None, (pod.result, pod.stderr)
        assert (pod.work / "POD.md").read_text() == "pod\n"
        assert (pod.work / "UID.txt").read_text() == f"{POD_UID}\n"
