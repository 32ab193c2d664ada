"""The live logs over a real WebSocket to local mode (README "Live updates"): a connection without
a viewer's credentials is refused at the handshake; a subscribe replays the lines after `after`,
then new lines and state changes are pushed; a reconnect that resumes from the last sequence
number it has sees every later line once."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import websocket  # websocket-client

from tests.support.api import Api
from tests.support.localmode import LocalMode
from tests.support.waiting import wait_for

SOCKET = "/api/live/socket"


def socket_url(stack: LocalMode) -> str:
    return stack.url.replace("http://", "ws://") + SOCKET


class Socket:
    def __init__(self, url: str, **options: Any) -> None:
        self.ws = websocket.create_connection(url, timeout=60, **options)

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send(json.dumps(message))

    def receive(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(self.ws.recv())
        return message

    def until(self, wanted: str) -> list[dict[str, Any]]:
        """The messages up to and including the first of type `wanted` (recv's timeout bounds it)."""
        found = []
        while True:
            found.append(self.receive())
            if found[-1]["type"] == wanted:
                return found

    def close(self) -> None:
        self.ws.close()


def seqs(messages: list[dict[str, Any]]) -> list[int]:
    return [line["seq"] for m in messages if m["type"] == "lines" for line in m["lines"]]


def say(directory: Path, name: str, text: str) -> None:
    """What the stand-in agent prints next ([fake:echo-dir]); renamed into place whole."""
    (directory / f".{name}").write_text(text)
    (directory / f".{name}").rename(directory / name)


def test_a_socket_without_a_viewers_credentials_is_refused(stack: LocalMode) -> None:
    for options in ({}, {"header": ["Authorization: Bearer optio_pat_nope"]}):
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(socket_url(stack), timeout=30, **options)
        assert refused.value.status_code == 403
    with pytest.raises(websocket.WebSocketBadStatusException):
        websocket.create_connection(socket_url(stack) + "?token=optio_live_e30_00", timeout=30)


def test_the_api_says_where_the_socket_is_with_a_ticket_that_opens_it(stack: LocalMode, api: Api) -> None:
    key = api.ok("POST", "/api/auth/api-keys", {"name": "watcher", "role": "viewer"}, status=201)
    viewer = Api(stack.url, key["token"])
    found = viewer.ok("GET", "/api/live")
    assert found["url"] == socket_url(stack)
    socket = Socket(f"{found['url']}?token={found['token']}")
    socket.send({"action": "subscribe", "after": 0})
    assert socket.receive() == {"type": "error", "error": "invalid message",
                                "details": [{"field": "taskId", "problem": "give one of taskId or runId, a non-empty string"}]}
    socket.send({"action": "subscribe", "taskId": "no-such-task"})
    answer = socket.receive()
    assert answer["type"] == "error" and answer["details"][0]["field"] == "taskId"
    socket.close()


def test_replay_then_push_then_resume_without_gap_or_duplicate(stack: LocalMode, api: Api, repo: dict[str, Any],
                                                              tmp_path: Path) -> None:
    cue = tmp_path / "cue"
    cue.mkdir()
    task = api.ok("POST", "/api/tasks", {"title": "Live", "prompt": f"[fake:echo-dir={cue}] go",
                                         "repoId": repo["id"]}, status=201)
    say(cue, "01", "first")
    wait_for(lambda: any("first" in line["content"] for line in api.logs(task["id"])), timeout_s=90,
             what="the first line")
    key = api.ok("POST", "/api/auth/api-keys", {"name": "viewer", "role": "viewer"}, status=201)

    socket = Socket(socket_url(stack), header=[f"Authorization: Bearer {key['token']}"])
    socket.send({"action": "subscribe", "taskId": task["id"], "after": 0})
    replay = socket.until("replayed")
    stored = [line["seq"] for line in api.logs(task["id"])]
    assert seqs(replay)[:len(stored)] == stored  # the lines so far, in order
    assert replay[-1] == {"type": "replayed", "id": task["id"], "upTo": seqs(replay)[-1]}

    say(cue, "02", "pushed")
    pushed: list[dict[str, Any]] = []
    while not any("pushed" in line["content"] for m in pushed if m["type"] == "lines" for line in m["lines"]):
        pushed.append(socket.receive())
    have = seqs(replay) + seqs(pushed)
    socket.close()

    # Missed while disconnected: printed, then read on reconnect from where the client was.
    say(cue, "03", "missed one")
    say(cue, "04", "missed two")
    wait_for(lambda: any("missed two" in line["content"] for line in api.logs(task["id"])), timeout_s=90,
             what="the lines printed while disconnected")
    again = Socket(socket_url(stack), header=[f"Authorization: Bearer {key['token']}"])
    again.send({"action": "subscribe", "taskId": task["id"], "after": max(have)})
    resumed = again.until("replayed")
    have += seqs(resumed)
    assert [m for m in resumed if m["type"] == "lines"][0]["lines"][0]["content"].startswith("missed one")

    say(cue, "end", "")
    states: list[dict[str, Any]] = []
    settled = ("completed", "pr_opened", "needs_attention", "failed")
    while not states or states[-1].get("state") not in settled:
        message = again.receive()
        if message["type"] == "lines":
            have += seqs([message])
        else:
            states.append(message)
    assert states[-1]["id"] == task["id"] and states[-1]["state"] == api.task(task["id"])["state"]
    everything = [line["seq"] for line in api.logs(task["id"])]
    while set(everything) - set(have):  # the last lines may come after the last state change
        message = again.receive()
        have += seqs([message]) if message["type"] == "lines" else []
    again.close()
    # Each line once, and none missing: what the sockets gave is exactly what the table holds.
    assert sorted(have) == sorted(set(have)), have
    assert set(have) == set(everything)
