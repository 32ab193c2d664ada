"""GitHub Copilot CLI, the real CLI at the pinned version, through the whole system in local mode
against the OpenAI Chat Completions stand-in (tests/fakes/copilot_api.py), offline.

Copilot CLI talks to GitHub's model routing unless COPILOT_PROVIDER_BASE_URL names a custom model
provider ("bring your own key"); each test points the agent at its own stand-in through that and
COPILOT_PROVIDER_API_KEY, set as Optio secrets as a user would. The model is the task's.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core import failures
from tests.agents.conftest import AgentSystem, start_agent_system
from tests.fakes.copilot_api import CWD, is_conversation, messages_of, start, text_of
from tests.fakes.scripted_vendor import Reply, Seen, ToolCall, VendorStandIn

pytestmark = pytest.mark.xdist_group("agents-copilot")

# A model the CLI knows (its tools for it are `create`, `edit`, `view`, `bash`, ...).
MODEL = "claude-sonnet-4.6"
KEY = "sk-copilot-test-key"
TOUR = [
    Reply(text="I'll add the greeting.",
          tool_calls=(ToolCall("create", {"path": f"{CWD}/GREETING.md", "file_text": "# Hello\n\nHello, world!\n"}),),
          input_tokens=1200, output_tokens=60),
    Reply(tool_calls=(ToolCall("bash", {"command": "git status --short", "description": "Show the change"}),),
          input_tokens=1400, output_tokens=40),
    Reply(text="Added GREETING.md.", input_tokens=1500, output_tokens=20),
]


@pytest.fixture(scope="module")
def system(agent_tmp: Path) -> Iterator[AgentSystem]:
    started = start_agent_system(agent_tmp, "copilot", "copilot")
    try:
        yield started
    finally:
        started.mode.stop()


def serve(system: AgentSystem, replies: list[Reply], key: str = KEY) -> VendorStandIn:
    stand_in = start(api_key=KEY, replies=replies, model=MODEL)
    system.set_secret("COPILOT_PROVIDER_BASE_URL", stand_in.url + "/v1")
    system.set_secret("COPILOT_PROVIDER_API_KEY", key)
    return stand_in


def conversation(stand_in: VendorStandIn) -> list[Seen]:
    return stand_in.conversation(is_conversation)


def session_folder(seen: Seen) -> str | None:
    """The session id the CLI tells the model about (its session folder, in the system prompt)."""
    found = re.search(r"session-state/([0-9a-f-]{36})", text_of(messages_of(seen)[0]))
    return found.group(1) if found else None


def lines_of(system: AgentSystem, task_id: str, kind: str) -> list[str]:
    return [line["content"] for line in system.logs(task_id) if line["type"] == kind]


def test_tour_task_writes_the_file_runs_a_command_and_reports_what_the_api_said(system: AgentSystem) -> None:
    # A rate limit first: the CLI retries it and the log says so in words.
    stand_in = serve(system, TOUR)
    stand_in.refusals = [429]
    try:
        task = system.create_task("Add a GREETING.md that says hello", model=MODEL)
        done = system.wait(task["id"], {"completed", "failed", "needs_attention"})
    finally:
        stand_in.stop()

    assert done["state"] == "completed", (done.get("errorMessage"), system.logs(task["id"])[-15:])
    assert system.on_branch(done, "GREETING.md") == "# Hello\n\nHello, world!"
    calls = conversation(stand_in)
    assert len(calls) == 1 + len(TOUR)  # the refused call, then one per reply
    assert (done["inputTokens"], done["outputTokens"]) == (4100, 120)
    assert done["modelUsed"] == MODEL == calls[-1].body["model"]
    assert done["sessionId"] == session_folder(calls[-1])
    # Copilot reports no price for a custom provider's calls.
    assert not done.get("costUsd")
    # The shell command ran in the checkout: its output went back to the model.
    assert "?? GREETING.md" in text_of(messages_of(calls[-1])[-1])
    assert lines_of(system, task["id"], "tool_use") == ["create: " + _checkout_path(calls[1], "GREETING.md"),
                                                        "bash: git status --short"]
    retries = lines_of(system, task["id"], "retry")
    assert retries and retries[0].startswith("retrying the model call (rate_limit) after HTTP 429")
    assert not lines_of(system, task["id"], "permission")


def test_resume_after_needs_attention_continues_the_conversation_in_a_fresh_workspace(
    system: AgentSystem,
) -> None:
    first = [
        # A failing tool call, then a question instead of a change: the task needs attention.
        Reply(tool_calls=(ToolCall("view", {"path": f"{CWD}/GREETING.md"}),), input_tokens=900, output_tokens=30),
        Reply(text="Which language should the greeting be in?", input_tokens=1000, output_tokens=12),
    ]
    second = [
        Reply(tool_calls=(ToolCall("create", {"path": f"{CWD}/GREETING.md", "file_text": "Hallo!\n"}),),
              input_tokens=1300, output_tokens=40),
        Reply(text="GREETING.md now says hello in German.", input_tokens=1400, output_tokens=15),
    ]
    stand_in = serve(system, first + second)
    try:
        task = system.create_task("Add a GREETING.md that says hello, in the right language", model=MODEL)
        asked = system.wait(task["id"], {"completed", "failed", "needs_attention"})
        assert asked["state"] == "needs_attention", asked.get("errorMessage")
        assert lines_of(system, task["id"], "error") == ["view failed: Path does not exist"]
        session = asked["sessionId"]
        assert (asked["inputTokens"], asked["outputTokens"]) == (1900, 42)

        system.api.ok("POST", f"/api/tasks/{task['id']}/resume", {"prompt": "German, please."})
        done = system.wait(task["id"], {"completed", "failed"})
    finally:
        stand_in.stop()

    assert done["state"] == "completed", (done.get("errorMessage"), system.logs(task["id"])[-15:])
    assert system.on_branch(done, "GREETING.md") == "Hallo!"
    calls = conversation(stand_in)
    assert len(calls) == len(first) + len(second)
    resumed = calls[len(first)]
    said = [text_of(message) for message in messages_of(resumed)]
    # The earlier turns went back to the model, then the new prompt.
    assert any("Which language should the greeting be in?" in text for text in said)
    assert "German, please." in said[-1]
    assert session_folder(resumed) == session == done["sessionId"]
    # Each attempt counted its own calls once: the resumed session's past is not counted again.
    assert (done["inputTokens"], done["outputTokens"]) == (
        sum(r.input_tokens for r in first + second), sum(r.output_tokens for r in first + second))


def test_wrong_key_fails_as_auth_at_the_first_refusal_and_is_not_retried(system: AgentSystem) -> None:
    stand_in = serve(system, TOUR, key="sk-copilot-wrong")
    try:
        task = system.create_task("Say hello with a wrong key", model=MODEL, maxRetries=2)
        failed = system.wait(task["id"], {"completed", "failed", "needs_attention"})
        events = system.api.ok("GET", f"/api/tasks/{task['id']}/events")
    finally:
        stand_in.stop()

    assert (failed["state"], failed["errorKind"]) == ("failed", "auth"), failed.get("errorMessage")
    assert "could not authenticate" in failed["errorMessage"]
    assert "COPILOT_PROVIDER_API_KEY" in failed["errorMessage"]
    refusals = conversation(stand_in)
    # Stopped at the first refusal, not after the CLI's own retries.
    assert 1 <= len(refusals) <= 2
    # An auth failure is final: no second attempt was started, nor will the policy start one.
    assert not failures.FailureKind.parse(failed["errorKind"]).retryable
    assert [e["to"] for e in _items(events)].count("running") == 1
    errors = lines_of(system, task["id"], "error")
    assert errors and errors[0] == "model call refused: HTTP 401: Incorrect API key provided."


def _checkout_path(seen: Seen, name: str) -> str:
    found = re.search(r"Current working directory:\s*(\S+)", text_of(messages_of(seen)[0]))
    assert found, "the CLI names its working directory in the system prompt"
    return f"{found.group(1)}/{name}"


def _items(events: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = events["items"] if isinstance(events, dict) else events
    return items

