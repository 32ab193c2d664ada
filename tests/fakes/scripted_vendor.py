"""What every scripted stand-in of a model vendor's API shares: a loopback HTTP server, the
replies it is scripted to give (text, tool calls, the usage each call reports), the requests it
saw (so a test can check that a resumed conversation sent its earlier turns), and the refusals
it can be told to answer with (a wrong key, a rate limit).

Each vendor module (anthropic_api, openai_api, gemini_api, ...) renders these replies in its own
wire format: `VendorStandIn` is started with that module's request handler class.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# What a scripted argument may say for the agent's working directory: the CLIs' file tools want
# absolute paths, and each vendor's stand-in learns the directory from what the CLI sends first.
CWD = "{cwd}"


def with_cwd(value: Any, cwd: str) -> Any:
    """`value` (a scripted tool call's arguments) with CWD replaced by the agent's directory."""
    if isinstance(value, str):
        return value.replace(CWD, cwd)
    if isinstance(value, dict):
        return {key: with_cwd(item, cwd) for key, item in value.items()}
    if isinstance(value, list):
        return [with_cwd(item, cwd) for item in value]
    return value


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Reply:
    """One model response: text and/or tool calls, and the usage the API reports for it."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    input_tokens: int = 1000
    output_tokens: int = 50


@dataclass
class Seen:
    """One request the stand-in answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    # When it arrived (time.time()), to set against the task's event timestamps.
    at: float = field(default_factory=time.time)


@dataclass
class VendorStandIn:
    """A scripted vendor API on 127.0.0.1. `replies` are served in order to the requests that
    continue the agent's conversation (the vendor module decides which requests those are);
    once they run out, the last one is repeated as a plain text answer."""

    handler: type[BaseHTTPRequestHandler]
    api_key: str = "sk-test-key"
    replies: list[Reply] = field(default_factory=list)
    model: str = "stand-in-model"
    requests: list[Seen] = field(default_factory=list)
    # Status codes to answer the next conversation requests with, one per request, before the
    # script goes on (e.g. [429, 429] for a rate limit the CLI retries through).
    refusals: list[int] = field(default_factory=list)
    # Answer every conversation request with this status (e.g. 429 forever, or 529).
    refuse_always: int | None = None
    served: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> VendorStandIn:
        server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler)
        server.daemon_threads = True
        server.stand_in = self  # type: ignore[attr-defined]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.requests.append(seen)

    def next_turn(self) -> Reply | int:
        """The next scripted reply, or the status code to refuse this request with."""
        with self._lock:
            if self.refuse_always is not None:
                return self.refuse_always
            if self.refusals:
                return self.refusals.pop(0)
            index = self.served
            self.served += 1
        if index < len(self.replies):
            return self.replies[index]
        last = self.replies[-1] if self.replies else Reply(text="Done.")
        return Reply(text=last.text or "Done.", input_tokens=last.input_tokens,
                     output_tokens=last.output_tokens)

    def conversation(self, match: Callable[[Seen], bool]) -> list[Seen]:
        with self._lock:
            return [seen for seen in self.requests if match(seen)]


def stand_in_of(handler: BaseHTTPRequestHandler) -> VendorStandIn:
    stand_in: VendorStandIn = handler.server.stand_in  # type: ignore[attr-defined]
    return stand_in


def read_json(handler: BaseHTTPRequestHandler) -> Any:
    length = int(handler.headers.get("Content-Length") or 0)
    raw = handler.rfile.read(length) if length else b""
    try:
        return json.loads(raw) if raw else None
    except json.JSONDecodeError:
        return raw.decode("utf-8", "replace")


def send_json(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def start_sse(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.send_header("Cache-Control", "no-cache")
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.close_connection = True


def send_sse(handler: BaseHTTPRequestHandler, data: Any, event: str | None = None) -> None:
    chunk = (f"event: {event}\n" if event else "") + f"data: {json.dumps(data)}\n\n"
    handler.wfile.write(chunk.encode())
    handler.wfile.flush()
