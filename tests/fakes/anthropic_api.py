"""A scripted stand-in of the Anthropic Messages API (https://docs.anthropic.com/en/api/messages),
for running the real Claude Code CLI offline: `ANTHROPIC_BASE_URL=<url>` points the CLI here.

POST /v1/messages answers with the scripted replies, streamed as server-sent events exactly as
Anthropic documents them (message_start, content_block_start / content_block_delta with
text_delta or input_json_delta / content_block_stop, message_delta with stop_reason and usage,
message_stop), or as one JSON message when the request does not ask for a stream. A request
without the right x-api-key (or bearer token) gets Anthropic's 401 authentication_error; the
stand-in's `refusals` become 429 rate_limit_error / 529 overloaded_error.

Which requests are the conversation: the CLI's agent loop sends its tools with every request; its
side requests (a session title, a one-token quota probe, ...) send none. Only the conversation
consumes the script; a side request gets a short text answer. Token counting
(POST /v1/messages/count_tokens) is answered too.

By hand, to try the README's tour with the real CLI offline:

    .venv/bin/python -m tests.fakes.anthropic_api --port 8787

prints the base URL and the key to set (as the Optio secrets ANTHROPIC_BASE_URL and
ANTHROPIC_API_KEY); its default script writes GREETING.md, runs a shell command and finishes.
"""
from __future__ import annotations

import argparse
import json
import re
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.scripted_vendor import (
    Reply,
    Seen,
    ToolCall,
    VendorStandIn,
    read_json,
    send_json,
    send_sse,
    stand_in_of,
    start_sse,
)

# The error types Anthropic answers with, by status code.
ERRORS = {
    400: ("invalid_request_error", "Invalid request"),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "The requested resource could not be found."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}
# What a scripted argument may say for the agent's working directory (the CLI's file tools want
# absolute paths; the stand-in learns the directory from the system prompt the CLI sends).
CWD = "{cwd}"
_CWD_IN_PROMPT = re.compile(r"(?:Primary working directory|Working directory):\s*(\S+)")


def is_conversation(seen: Seen) -> bool:
    """A request of the agent's own loop (it offers the model its tools); not a side request."""
    body = seen.body
    return (seen.method == "POST" and seen.path.split("?")[0] == "/v1/messages"
            and isinstance(body, dict) and bool(body.get("tools")))


def messages_of(seen: Seen) -> list[dict[str, Any]]:
    body = seen.body
    messages = body.get("messages") if isinstance(body, dict) else None
    return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []


def text_of(message: dict[str, Any]) -> str:
    """All text a message carries: its text blocks and its tool results."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        elif block.get("type") == "tool_result":
            inner = block.get("content")
            parts.append(inner if isinstance(inner, str) else text_of({"content": inner}))
    return "\n".join(parts)


def working_directory(body: dict[str, Any]) -> str | None:
    """The latest working directory the CLI told the model of: a resumed session keeps its first
    system prompt (with the first attempt's directory) and adds an "Environment update"."""
    system = body.get("system")
    texts = [system] if isinstance(system, str) else [
        str(block.get("text", "")) for block in system if isinstance(block, dict)
    ] if isinstance(system, list) else []
    texts += [text_of(m) for m in body.get("messages", []) if isinstance(m, dict)]
    found = [match.group(1) for text in texts for match in _CWD_IN_PROMPT.finditer(text)]
    return found[-1] if found else None


def _with_cwd(value: Any, cwd: str) -> Any:
    if isinstance(value, str):
        return value.replace(CWD, cwd)
    if isinstance(value, dict):
        return {key: _with_cwd(item, cwd) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_cwd(item, cwd) for item in value]
    return value


def content_blocks(reply: Reply, cwd: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.text:
        blocks.append({"type": "text", "text": reply.text})
    for call in reply.tool_calls:
        blocks.append({"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:24]}", "name": call.name,
                       "input": _with_cwd(call.arguments, cwd)})
    return blocks


class AnthropicHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet: the tests read the recorded requests instead."""

    def do_HEAD(self) -> None:  # noqa: N802
        # The CLI may probe that its base URL answers at all.
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        stand_in = stand_in_of(self)
        stand_in.record(Seen("GET", self.path, dict(self.headers.items()), None))
        path = self.path.split("?")[0]
        if path.startswith("/v1/models"):
            send_json(self, 200, {"data": [{"type": "model", "id": stand_in.model,
                                            "display_name": stand_in.model,
                                            "created_at": "2026-01-01T00:00:00Z"}],
                                  "has_more": False, "first_id": stand_in.model, "last_id": stand_in.model})
            return
        self._error(404)

    def do_POST(self) -> None:  # noqa: N802
        stand_in = stand_in_of(self)
        body = read_json(self)
        seen = Seen("POST", self.path, dict(self.headers.items()), body)
        stand_in.record(seen)
        path = self.path.split("?")[0]
        if not self._authorized(stand_in):
            self._error(401)
            return
        if path == "/v1/messages/count_tokens":
            send_json(self, 200, {"input_tokens": len(json.dumps(body)) // 4})
            return
        if path != "/v1/messages" or not isinstance(body, dict):
            self._error(404)
            return
        model = str(body.get("model") or stand_in.model)
        if is_conversation(seen):
            turn = stand_in.next_turn()
            if isinstance(turn, int):
                self._error(turn)
                return
            reply = turn
        else:
            reply = Reply(text="Stand-in side answer", input_tokens=10, output_tokens=5)
        blocks = content_blocks(reply, working_directory(body) or ".")
        if body.get("stream"):
            self._stream(model, blocks, reply)
        else:
            send_json(self, 200, self._message(model, blocks, reply))

    def _authorized(self, stand_in: VendorStandIn) -> bool:
        key = self.headers.get("x-api-key")
        bearer = self.headers.get("Authorization", "")
        return key == stand_in.api_key or bearer == f"Bearer {stand_in.api_key}"

    def _error(self, status: int) -> None:
        kind, message = ERRORS.get(status, ("api_error", f"status {status}"))
        data = json.dumps({"type": "error", "error": {"type": kind, "message": message},
                           "request_id": f"req_{uuid.uuid4().hex[:24]}"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", f"req_{uuid.uuid4().hex[:24]}")
        if status in (429, 529):
            # Anthropic says when to come back; zero keeps a test's retries quick.
            self.send_header("retry-after", "0")
        self.end_headers()
        self.wfile.write(data)

    @staticmethod
    def _usage(reply: Reply) -> dict[str, Any]:
        return {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens,
                "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                "service_tier": "standard"}

    @staticmethod
    def _stop_reason(blocks: list[dict[str, Any]]) -> str:
        return "tool_use" if any(block["type"] == "tool_use" for block in blocks) else "end_turn"

    def _message(self, model: str, blocks: list[dict[str, Any]], reply: Reply) -> dict[str, Any]:
        return {"id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant",
                "model": model, "content": blocks, "stop_reason": self._stop_reason(blocks),
                "stop_sequence": None, "usage": self._usage(reply)}

    def _stream(self, model: str, blocks: list[dict[str, Any]], reply: Reply) -> None:
        start_sse(self)
        message = self._message(model, [], reply)
        message["stop_reason"] = None
        message["usage"] = {**self._usage(reply), "output_tokens": 1}
        send_sse(self, {"type": "message_start", "message": message}, "message_start")
        for index, block in enumerate(blocks):
            if block["type"] == "text":
                send_sse(self, {"type": "content_block_start", "index": index,
                                "content_block": {"type": "text", "text": ""}}, "content_block_start")
                send_sse(self, {"type": "ping"}, "ping")
                text = block["text"]
                for at in range(0, len(text), 40):
                    send_sse(self, {"type": "content_block_delta", "index": index,
                                    "delta": {"type": "text_delta", "text": text[at:at + 40]}},
                             "content_block_delta")
            else:
                send_sse(self, {"type": "content_block_start", "index": index,
                                "content_block": {"type": "tool_use", "id": block["id"],
                                                  "name": block["name"], "input": {}}},
                         "content_block_start")
                arguments = json.dumps(block["input"])
                for at in range(0, len(arguments), 40):
                    send_sse(self, {"type": "content_block_delta", "index": index,
                                    "delta": {"type": "input_json_delta",
                                              "partial_json": arguments[at:at + 40]}},
                             "content_block_delta")
            send_sse(self, {"type": "content_block_stop", "index": index}, "content_block_stop")
        send_sse(self, {"type": "message_delta",
                        "delta": {"stop_reason": self._stop_reason(blocks), "stop_sequence": None},
                        "usage": {"output_tokens": reply.output_tokens}}, "message_delta")
        send_sse(self, {"type": "message_stop"}, "message_stop")


def anthropic_stand_in(replies: list[Reply], api_key: str = "sk-ant-test-key",
                       model: str = "claude-sonnet-4-5-20250929") -> VendorStandIn:
    return VendorStandIn(AnthropicHandler, api_key=api_key, replies=list(replies), model=model)


def conversation(stand_in: VendorStandIn) -> list[Seen]:
    return stand_in.conversation(is_conversation)


# The README's tour: "Add a GREETING.md that says hello".
TOUR_SCRIPT = [
    Reply(text="I'll add the greeting.",
          tool_calls=(ToolCall("Write", {"file_path": f"{CWD}/GREETING.md", "content": "# Hello\n\nHello, world!\n"}),),
          input_tokens=1200, output_tokens=80),
    Reply(tool_calls=(ToolCall("Bash", {"command": "cat GREETING.md && git status --short",
                                        "description": "Show the new file"}),),
          input_tokens=1400, output_tokens=40),
    Reply(text="Added GREETING.md, which says hello.", input_tokens=1500, output_tokens=20),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--key", default="sk-ant-test-key", help="the API key it accepts")
    args = parser.parse_args()
    stand_in = anthropic_stand_in(TOUR_SCRIPT, api_key=args.key)
    # Serve on the chosen port rather than any free one.
    from http.server import ThreadingHTTPServer

    server = ThreadingHTTPServer(("127.0.0.1", args.port), AnthropicHandler)
    server.daemon_threads = True
    server.stand_in = stand_in  # type: ignore[attr-defined]
    print(f"Anthropic API stand-in on http://127.0.0.1:{args.port}", flush=True)
    print(f"  ANTHROPIC_BASE_URL=http://127.0.0.1:{args.port}  ANTHROPIC_API_KEY={args.key}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
