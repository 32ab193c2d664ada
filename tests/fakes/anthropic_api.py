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

Amazon Bedrock (CLAUDE_CODE_USE_BEDROCK with ANTHROPIC_BEDROCK_BASE_URL=<url> and
CLAUDE_CODE_SKIP_BEDROCK_AUTH): POST /model/<id>/invoke-with-response-stream answers the same
replies as the AWS event stream Bedrock sends (each Messages event base64-wrapped in a "chunk").

By hand, to try the README's tour with the real CLI offline:

    .venv/bin/python -m tests.fakes.anthropic_api --port 8787 [--ask-first]

prints the base URL and the key to set (as the Optio secrets ANTHROPIC_BASE_URL and
ANTHROPIC_API_KEY) and a line per model call; its script writes GREETING.md, runs a shell command
and finishes (with --ask-first it first asks a question, so the task needs attention until resumed).
"""
from __future__ import annotations

import argparse
import base64
import json
import re
import struct
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from tests.fakes.scripted_vendor import (
    CWD,
    Reply,
    Seen,
    ToolCall,
    VendorStandIn,
    read_json,
    send_json,
    send_sse,
    stand_in_of,
    start_sse,
    with_cwd,
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
# Amazon Bedrock's InvokeModel and InvokeModelWithResponseStream: the same Messages body (the model
# in the path), answered with JSON or with the AWS event stream of base64-wrapped Messages events.
_BEDROCK = re.compile(r"/model/([^/]+)/(invoke|invoke-with-response-stream)")
_CWD_IN_PROMPT = re.compile(r"(?:Primary working directory|Working directory):\s*(\S+)")


def is_conversation(seen: Seen) -> bool:
    """A request of the agent's own loop (it offers the model its tools); not a side request."""
    body = seen.body
    path = seen.path.split("?")[0]
    return (seen.method == "POST" and (path == "/v1/messages" or _BEDROCK.fullmatch(path) is not None)
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



def content_blocks(reply: Reply, cwd: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.text:
        blocks.append({"type": "text", "text": reply.text})
    for call in reply.tool_calls:
        blocks.append({"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:24]}", "name": call.name,
                       "input": with_cwd(call.arguments, cwd)})
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
        if path == "/inference-profiles":
            # Bedrock's control plane: the CLI looks for the account's inference profiles.
            send_json(self, 200, {"inferenceProfileSummaries": []})
            return
        self._error(404)

    def do_POST(self) -> None:  # noqa: N802
        stand_in = stand_in_of(self)
        body = read_json(self)
        seen = Seen("POST", self.path, dict(self.headers.items()), body)
        stand_in.record(seen)
        path = self.path.split("?")[0]
        bedrock = _BEDROCK.fullmatch(path)
        # Bedrock requests are signed with the caller's AWS credentials (SigV4), which the CLI
        # skips with CLAUDE_CODE_SKIP_BEDROCK_AUTH: there is no key to check.
        if bedrock is None and not self._authorized(stand_in):
            self._error(401)
            return
        if path == "/v1/messages/count_tokens":
            send_json(self, 200, {"input_tokens": len(json.dumps(body)) // 4})
            return
        if (path != "/v1/messages" and bedrock is None) or not isinstance(body, dict):
            self._error(404)
            return
        model = unquote(bedrock.group(1)) if bedrock else str(body.get("model") or stand_in.model)
        if is_conversation(seen):
            turn = stand_in.next_turn()
            if isinstance(turn, int):
                self._bedrock_error(turn) if bedrock else self._error(turn)
                return
            reply = turn
        else:
            reply = Reply(text="Stand-in side answer", input_tokens=10, output_tokens=5)
        blocks = content_blocks(reply, working_directory(body) or ".")
        if bedrock is not None and bedrock.group(2) == "invoke-with-response-stream":
            self._event_stream(stream_events(self._message(model, blocks, reply)))
        elif bedrock is None and body.get("stream"):
            start_sse(self)
            for event in stream_events(self._message(model, blocks, reply)):
                send_sse(self, event, event["type"])
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

    def _bedrock_error(self, status: int) -> None:
        """Bedrock's refusals: a JSON message, the exception's name in x-amzn-ErrorType."""
        kind = {401: "UnrecognizedClientException", 403: "AccessDeniedException",
                429: "ThrottlingException"}.get(status, "ServiceUnavailableException")
        data = json.dumps({"message": f"{kind}: refused by the stand-in"}).encode()
        self.send_response(503 if status == 529 else status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-ErrorType", f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/")
        self.end_headers()
        self.wfile.write(data)

    def _event_stream(self, events: list[dict[str, Any]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        self.send_header("x-amzn-bedrock-content-type", "application/json")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        for event in events:
            chunk = json.dumps({"bytes": base64.b64encode(json.dumps(event).encode()).decode()})
            self.wfile.write(event_stream_message(
                {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"},
                chunk.encode()))
            self.wfile.flush()


def stream_events(message: dict[str, Any]) -> list[dict[str, Any]]:
    """A whole message as the Messages API streams it: message_start (usage so far), each content
    block as start / deltas / stop, message_delta (stop reason, output tokens), message_stop."""
    blocks: list[dict[str, Any]] = message["content"]
    events: list[dict[str, Any]] = [{"type": "message_start", "message": {
        **message, "content": [], "stop_reason": None, "usage": {**message["usage"], "output_tokens": 1}}}]
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            events.append({"type": "content_block_start", "index": index,
                           "content_block": {"type": "text", "text": ""}})
            events.append({"type": "ping"})
            text = block["text"]
            events += [{"type": "content_block_delta", "index": index,
                        "delta": {"type": "text_delta", "text": text[at:at + 40]}}
                       for at in range(0, len(text), 40)]
        else:
            events.append({"type": "content_block_start", "index": index,
                           "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"],
                                             "input": {}}})
            arguments = json.dumps(block["input"])
            events += [{"type": "content_block_delta", "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": arguments[at:at + 40]}}
                       for at in range(0, len(arguments), 40)]
        events.append({"type": "content_block_stop", "index": index})
    events.append({"type": "message_delta",
                   "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                   "usage": {"output_tokens": message["usage"]["output_tokens"]}})
    events.append({"type": "message_stop"})
    return events


def event_stream_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One message of the AWS event stream encoding (application/vnd.amazon.eventstream): total
    and headers length, CRC32 of that prelude, string headers, payload, CRC32 of it all."""
    encoded = b"".join(
        struct.pack("!B", len(name)) + name.encode() + struct.pack("!BH", 7, len(value)) + value.encode()
        for name, value in headers.items()
    )
    prelude = struct.pack("!II", 12 + len(encoded) + len(payload) + 4, len(encoded))
    prelude += struct.pack("!I", zlib.crc32(prelude))
    body = prelude + encoded + payload
    return body + struct.pack("!I", zlib.crc32(body))


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


# A first answer that asks instead of changing anything: the task ends in needs_attention, and a
# resume (POST /api/tasks/:id/resume) continues the same conversation with the tour's replies.
QUESTION = Reply(text="Should GREETING.md say hello in English? Resume me with your answer.",
                 input_tokens=1000, output_tokens=15)


class _Announcing(VendorStandIn):
    """Prints each conversation request, so a person can see a resume send the earlier turns."""

    def record(self, seen: Seen) -> None:
        super().record(seen)
        if is_conversation(seen):
            messages = messages_of(seen)
            answers = sum(1 for message in messages if message.get("role") == "assistant")
            print(f"{seen.body.get('model') or seen.path}: {len(messages)} messages in the conversation, "
                  f"{answers} of them the model's earlier answers", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="A scripted Anthropic Messages API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--key", default="sk-ant-test-key", help="the API key it accepts")
    parser.add_argument("--ask-first", action="store_true",
                        help="answer the first request with a question (the task needs attention), "
                             "then write GREETING.md once resumed")
    args = parser.parse_args()
    script = [QUESTION, *TOUR_SCRIPT] if args.ask_first else list(TOUR_SCRIPT)
    stand_in = _Announcing(AnthropicHandler, api_key=args.key, replies=script)
    # Served on the port asked for, rather than any free one as in the tests.
    server = ThreadingHTTPServer(("127.0.0.1", args.port), AnthropicHandler)
    server.daemon_threads = True
    server.stand_in = stand_in  # type: ignore[attr-defined]
    print(f"Anthropic API stand-in on http://127.0.0.1:{args.port}; point Claude Code at it (Optio secrets, "
          f"or the environment of make dev):\n"
          f"  ANTHROPIC_BASE_URL=http://127.0.0.1:{args.port} ANTHROPIC_API_KEY={args.key}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
