"""Gemini CLI, at the pinned version, through the whole system in local mode against the Gemini
API stand-in (tests/fakes/gemini_api.py): the Optio secrets GEMINI_API_KEY and
GOOGLE_GEMINI_BASE_URL point it there, the adapter's settings do the rest."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from optio_runner.agents.gemini import GeminiAdapter

from tests.agents.conftest import (
    POD_UID,
    AgentSystem,
    as_pod_user,
    at,
    cli_path,
    start_agent_system,
    task_events,
)
from tests.fakes.gemini_api import (
    CWD,
    GeminiStandIn,
    contents_of,
    conversation,
    gemini_stand_in,
    model_of,
    text_of,
)
from tests.fakes.scripted_vendor import Reply, ToolCall

KEY = "gemini-test-key"
# The pod runs the runner, and so the agent, as this uid.


@pytest.fixture(scope="module")
def vendor() -> Iterator[GeminiStandIn]:
    stand_in = gemini_stand_in([], api_key=KEY).start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def system(agent_tmp: Path, vendor: GeminiStandIn) -> Iterator[AgentSystem]:
    agents = start_agent_system(agent_tmp, "gemini", "gemini")
    agents.set_secret("GEMINI_API_KEY", KEY)
    agents.set_secret("GOOGLE_GEMINI_BASE_URL", vendor.url)
    yield agents
    agents.mode.stop()




def reported_tokens(vendor: GeminiStandIn) -> tuple[int, int]:
    return (sum(usage.input_tokens for usage in vendor.reported),
            sum(usage.output_tokens for usage in vendor.reported))


def test_task_edits_a_file_and_runs_a_command(system: AgentSystem, vendor: GeminiStandIn) -> None:
    vendor.script([
        Reply(text="I'll add the greeting.",
              tool_calls=(ToolCall("write_file", {"file_path": f"{CWD}/GREETING.md",
                                                  "content": "# Hello\n\nHello, world!\n"}),),
              input_tokens=1200, output_tokens=80),
        Reply(tool_calls=(ToolCall("run_shell_command", {"command": "uname -s > SYSTEM.txt && git status --short",
                                                         "description": "Record the system"}),),
              input_tokens=1400, output_tokens=40),
        # A tool that fails: the log says which and why, and the agent carries on.
        Reply(tool_calls=(ToolCall("read_file", {"file_path": f"{CWD}/CHANGELOG.md"}),),
              input_tokens=1450, output_tokens=30),
        Reply(text="Added GREETING.md, which says hello.", input_tokens=1500, output_tokens=20),
    ])
    task = system.create_task("Add a GREETING.md that says hello")
    done = system.wait(task["id"], {"completed", "failed", "needs_attention"})

    assert done["state"] == "completed", done.get("errorMessage")
    # (the helper reads the file through git, trailing newline trimmed)
    assert system.on_branch(done, "GREETING.md") == "# Hello\n\nHello, world!"
    assert system.on_branch(done, "SYSTEM.txt") == "Linux"
    # What the API reported, side calls (the model router) included; Gemini reports no dollars.
    assert vendor.served == 4
    assert (done["inputTokens"], done["outputTokens"]) == reported_tokens(vendor)
    assert done["costUsd"] is None
    asked = {model_of(seen) for seen in conversation(vendor)}
    assert asked == {done["modelUsed"]}
    logs = system.logs(task["id"])
    started = [line["content"] for line in logs if line["content"].startswith("session ")]
    assert started == [f"session {done['sessionId']} started (model auto)"]
    assert done["resultSummary"] == "Added GREETING.md, which says hello."
    contents = [(line["type"], line["content"]) for line in logs]
    assert ("tool_use", 'run_shell_command: {"command": "uname -s > SYSTEM.txt && git status --short", '
                        '"description": "Record the system"}') in contents
    assert ("tool_result", "run_shell_command: ?? GREETING.md\n?? SYSTEM.txt") in contents
    failing = [content for kind, content in contents if kind == "error" and content.startswith("read_file")]
    assert len(failing) == 1 and failing[0].startswith("read_file failed (file_not_found): File not found: ")
    assert failing[0].endswith("/CHANGELOG.md")
    assert not [content for _, content in contents if content.lstrip().startswith("{")]


def test_resume_continues_the_conversation_in_a_fresh_workspace(system: AgentSystem, vendor: GeminiStandIn) -> None:
    vendor.script([Reply(text="The README looks right to me; I changed nothing.", input_tokens=900, output_tokens=25)])
    task = system.create_task("Check the README for typos")
    first = system.wait(task["id"], {"needs_attention", "completed", "failed"})
    assert first["state"] == "needs_attention", first.get("errorMessage")
    first_tokens = reported_tokens(vendor)
    assert (first["inputTokens"], first["outputTokens"]) == first_tokens

    vendor.script([
        Reply(tool_calls=(ToolCall("write_file", {"file_path": f"{CWD}/NOTES.md", "content": "Checked.\n"}),),
              input_tokens=1300, output_tokens=35),
        Reply(text="Wrote NOTES.md.", input_tokens=1350, output_tokens=10),
    ])
    system.api.ok("POST", f"/api/tasks/{task['id']}/resume", {"prompt": "Write what you found to NOTES.md"})
    done = system.wait(task["id"], {"completed", "failed", "needs_attention"})

    assert done["state"] == "completed", done.get("errorMessage")
    assert system.on_branch(done, "NOTES.md") == "Checked."
    assert done["sessionId"] == first["sessionId"]
    # The resumed attempt sent the earlier turns: the first prompt and the model's answer to it.
    resumed = "\n".join(text_of(content) for content in contents_of(conversation(vendor)[0]))
    assert "Check the README for typos" in resumed
    assert "The README looks right to me; I changed nothing." in resumed
    assert "Write what you found to NOTES.md" in resumed
    # Each attempt counts its own calls once.
    second_tokens = reported_tokens(vendor)
    assert (done["inputTokens"], done["outputTokens"]) == (first_tokens[0] + second_tokens[0],
                                                           first_tokens[1] + second_tokens[1])


def test_wrong_key_fails_as_auth_at_once_and_is_not_retried(system: AgentSystem, vendor: GeminiStandIn) -> None:
    vendor.script([Reply(text="unreachable")])
    system.set_secret("GEMINI_API_KEY", "not-the-key")
    try:
        task = system.create_task("Add a GREETING.md that says hello")
        failed = system.wait(task["id"], {"failed", "completed", "needs_attention"})
    finally:
        system.set_secret("GEMINI_API_KEY", KEY)

    assert failed["state"] == "failed" and failed["errorKind"] == "auth"
    assert failed["errorMessage"] is not None and "GEMINI_API_KEY" in failed["errorMessage"]
    assert "API key not valid" in failed["errorMessage"]
    assert vendor.served == 0 and vendor.refused
    assert {status for _, status in vendor.refused} == {400}
    first_refusal = min(when for when, _ in vendor.refused)
    entered_failed = [at(event["at"]) for event in task_events(system, task["id"]) if event["to"] == "failed"]
    assert len(entered_failed) == 1
    # At once: the vendor was called only before the failure (no retrying after it), by one attempt.
    last_refusal = max(when for when, _ in vendor.refused)
    assert first_refusal <= last_refusal <= entered_failed[0]
    # Not retried: one attempt ran, and every refused call came from it.
    attempts = {line["attempt"] for line in system.logs(task["id"])}
    assert attempts == {1}
    assert system.api.task(task["id"])["state"] == "failed"
    log = json.dumps(system.logs(task["id"]))
    assert "not-the-key" not in log


def test_the_pods_uid_may_edit_and_run_commands(vendor: GeminiStandIn) -> None:
    """Local mode runs the agent as root; the pod runs it as uid 1000. The same switches work
    there: the CLI, set up by the adapter and run as that uid, writes and runs without a prompt."""
    vendor.script([
        Reply(tool_calls=(ToolCall("write_file", {"file_path": f"{CWD}/POD.md", "content": "pod\n"}),)),
        Reply(tool_calls=(ToolCall("run_shell_command", {"command": "id -u > UID.txt"}),)),
        Reply(text="Done as the pod's user."),
    ])
    env = {"GEMINI_API_KEY": KEY, "GOOGLE_GEMINI_BASE_URL": vendor.url}
    with as_pod_user(GeminiAdapter(), str(cli_path("gemini")), env) as pod:
        assert pod.result.success and pod.collected.permission_denied is None, (pod.result, pod.stderr)
        assert (pod.work / "POD.md").read_text() == "pod\n"
        assert (pod.work / "UID.txt").read_text() == f"{POD_UID}\n"
