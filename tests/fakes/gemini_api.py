"""A scripted stand-in of the Gemini API (https://ai.google.dev/api), for running the real Gemini
CLI offline: `GOOGLE_GEMINI_BASE_URL=<url>` points the CLI here.

POST /v1beta/models/{model}:streamGenerateContent?alt=sse answers with the scripted replies as
server-sent events of GenerateContentResponse chunks (candidates[].content.parts[] holding text
and functionCall {name, args}; the last chunk carries finishReason STOP and usageMetadata
{promptTokenCount, candidatesTokenCount, totalTokenCount}); :generateContent answers the same in
one JSON body and :countTokens counts. The key comes in the x-goog-api-key header or ?key=: a
wrong one gets Google's 400 INVALID_ARGUMENT / API_KEY_INVALID, none at all its 403
PERMISSION_DENIED; the stand-in's `refusals` become 429 RESOURCE_EXHAUSTED, 500 INTERNAL or
503 UNAVAILABLE, in Google's error JSON.

Which requests are the conversation: the CLI's agent loop streams and offers the model its tools
(functionDeclarations); its side requests (the model router's complexity score, a next-speaker
check, a session summary, ...) are :generateContent calls without tools. Only the conversation
consumes the script; a side request gets an answer that fits the JSON schema it asks for, or a
short text. Every answer's usage is kept (`reported`), so a test can add up what the CLI was told.

By hand, to try the README's tour with the real CLI offline:

    .venv/bin/python -m tests.fakes.gemini_api --port 8789

prints the base URL and the key to set (as the Optio secrets GOOGLE_GEMINI_BASE_URL and
GEMINI_API_KEY); its default script writes GREETING.md, runs a shell command and finishes.
"""
from __future__ import annotations

import argparse
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

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

# Google's error bodies (google.rpc.Status), by status code.
ERRORS = {
    400: ("INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", "API_KEY_INVALID"),
    403: ("PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers without established "
          "identity). Please use API Key or other form of API consumer identity to call this API.", None),
    404: ("NOT_FOUND", "Requested entity was not found.", None),
    429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).", None),
    500: ("INTERNAL", "An internal error has occurred. Please retry or report in "
          "https://developers.generativeai.google/guide/troubleshooting", None),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later.", None),
}
_WORKSPACE = re.compile(r"Workspace Directories:\*\*\s*\n\s*-\s*(\S+)")
_MODEL_CALL = re.compile(r"^/v1(?:beta|alpha)?/models/([^/:]+):(\w+)$")
SIDE_USAGE = (10, 5)


@dataclass
class Usage:
    """What one answer told the CLI it used."""

    model: str
    input_tokens: int
    output_tokens: int
    conversation: bool


@dataclass
class GeminiStandIn(VendorStandIn):
    reported: list[Usage] = field(default_factory=list)
    # When each refusal (a wrong key, a rate limit) was answered, and with which status.
    refused: list[tuple[datetime, int]] = field(default_factory=list)
    _usage_lock: threading.Lock = field(default_factory=threading.Lock)

    def report(self, usage: Usage) -> None:
        with self._usage_lock:
            self.reported.append(usage)

    def refusal(self, status: int) -> None:
        with self._usage_lock:
            self.refused.append((datetime.now(UTC), status))

    def script(self, replies: list[Reply]) -> None:
        """Starts a new script: forgets what was served, seen and reported."""
        with self._lock, self._usage_lock:
            self.replies = list(replies)
            self.served = 0
            self.requests.clear()
            self.reported.clear()
            self.refused.clear()


def is_conversation(seen: Seen) -> bool:
    """A request of the agent's own loop: streamed, offering the model its tools."""
    body = seen.body
    call = _MODEL_CALL.match(urlsplit(seen.path).path)
    return (seen.method == "POST" and call is not None and call.group(2) == "streamGenerateContent"
            and isinstance(body, dict) and bool(body.get("tools")))


def model_of(seen: Seen) -> str | None:
    call = _MODEL_CALL.match(urlsplit(seen.path).path)
    return call.group(1) if call else None


def contents_of(seen: Seen) -> list[dict[str, Any]]:
    body = seen.body
    contents = body.get("contents") if isinstance(body, dict) else None
    return [c for c in contents if isinstance(c, dict)] if isinstance(contents, list) else []


def text_of(content: dict[str, Any]) -> str:
    """All a content carries as text: its text parts, function calls and function responses."""
    parts: list[str] = []
    for part in content.get("parts") or []:
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("text"), str):
            parts.append(part["text"])
        for key in ("functionCall", "functionResponse"):
            if isinstance(part.get(key), dict):
                parts.append(json.dumps(part[key]))
    return "\n".join(parts)


def workspace(body: dict[str, Any]) -> str | None:
    for content in body.get("contents") or []:
        if isinstance(content, dict):
            found = _WORKSPACE.search(text_of(content))
            if found:
                return found.group(1)
    return None



def fill_schema(schema: Any) -> Any:
    """A value of the JSON schema a side request asks for (OpenAPI types upper- or lower-case)."""
    if not isinstance(schema, dict):
        return "stand-in"
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    kind = str(schema.get("type") or "string").lower()
    if kind == "object":
        properties = schema.get("properties") or {}
        return {name: _named(name, sub) for name, sub in properties.items()}
    if kind == "array":
        return [fill_schema(schema.get("items"))]
    if kind in ("number", "integer"):
        # Zero where allowed: a confidence or a score that triggers nothing (no loop detected).
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    return "stand-in"


def _named(name: str, schema: Any) -> Any:
    # The router's complexity score: high, so the CLI keeps the model it was given (pro).
    if name == "complexity_score":
        return 90
    return fill_schema(schema)


class GeminiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet: the tests read the recorded requests instead."""

    def do_GET(self) -> None:  # noqa: N802
        stand_in = stand_in_of(self)
        stand_in.record(Seen("GET", self.path, dict(self.headers.items()), None))
        if not self._authorized(stand_in):
            return
        path = urlsplit(self.path).path
        if path.rstrip("/") in ("/v1beta/models", "/v1/models"):
            send_json(self, 200, {"models": [self._model_info(stand_in.model)]})
        elif path.startswith(("/v1beta/models/", "/v1/models/")):
            send_json(self, 200, self._model_info(path.rsplit("/", 1)[1]))
        else:
            self._error(404)

    def do_POST(self) -> None:  # noqa: N802
        stand_in = stand_in_of(self)
        body = read_json(self)
        seen = Seen("POST", self.path, dict(self.headers.items()), body)
        stand_in.record(seen)
        if not self._authorized(stand_in):
            return
        call = _MODEL_CALL.match(urlsplit(self.path).path)
        if call is None or not isinstance(body, dict):
            self._error(404)
            return
        model, method = call.groups()
        if method == "countTokens":
            send_json(self, 200, {"totalTokens": len(json.dumps(body)) // 4})
            return
        if method not in ("generateContent", "streamGenerateContent"):
            self._error(404)
            return
        conversation = is_conversation(seen)
        if conversation:
            turn = stand_in.next_turn()
            if isinstance(turn, int):
                self._error(turn)
                return
            reply = turn
        else:
            reply = self._side_reply(body)
        if isinstance(stand_in, GeminiStandIn):
            stand_in.report(Usage(model, reply.input_tokens, reply.output_tokens, conversation))
        parts = self._parts(reply, workspace(body) or ".")
        if method == "streamGenerateContent":
            self._stream(model, parts, reply)
        else:
            send_json(self, 200, self._response(model, parts, reply, final=True))

    def _authorized(self, stand_in: VendorStandIn) -> bool:
        key = self.headers.get("x-goog-api-key") or parse_qs(urlsplit(self.path).query).get("key", [""])[0]
        if key == stand_in.api_key:
            return True
        self._error(400 if key else 403)
        return False

    @staticmethod
    def _side_reply(body: dict[str, Any]) -> Reply:
        config = body.get("generationConfig") or {}
        schema = config.get("responseJsonSchema") or config.get("responseSchema")
        text = json.dumps(fill_schema(schema)) if schema else "Stand-in side answer"
        return Reply(text=text, input_tokens=SIDE_USAGE[0], output_tokens=SIDE_USAGE[1])

    @staticmethod
    def _parts(reply: Reply, cwd: str) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        if reply.text:
            parts.append({"text": reply.text})
        for call in reply.tool_calls:
            parts.append({"functionCall": {"name": call.name, "args": with_cwd(call.arguments, cwd)}})
        return parts

    @staticmethod
    def _model_info(model: str) -> dict[str, Any]:
        return {"name": f"models/{model}", "displayName": model, "inputTokenLimit": 1048576,
                "outputTokenLimit": 65536,
                "supportedGenerationMethods": ["generateContent", "countTokens"]}

    @staticmethod
    def _response(model: str, parts: list[dict[str, Any]], reply: Reply, final: bool) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
        response: dict[str, Any] = {"candidates": [candidate], "modelVersion": model,
                                    "responseId": uuid.uuid4().hex[:22]}
        if final:
            candidate["finishReason"] = "STOP"
            response["usageMetadata"] = {
                "promptTokenCount": reply.input_tokens,
                "candidatesTokenCount": reply.output_tokens,
                "totalTokenCount": reply.input_tokens + reply.output_tokens,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": reply.input_tokens}],
            }
        return response

    def _stream(self, model: str, parts: list[dict[str, Any]], reply: Reply) -> None:
        start_sse(self)
        # Text arrives in pieces, as the API streams it; function calls come whole, in the last chunk.
        text = "".join(str(part["text"]) for part in parts if "text" in part)
        calls = [part for part in parts if "functionCall" in part]
        pieces = [text[at:at + 40] for at in range(0, len(text), 40)]
        for piece in pieces[:-1]:
            send_sse(self, self._response(model, [{"text": piece}], reply, final=False))
        last = ([{"text": pieces[-1]}] if pieces else []) + calls
        send_sse(self, self._response(model, last, reply, final=True))

    def _error(self, status: int) -> None:
        stand_in = stand_in_of(self)
        if isinstance(stand_in, GeminiStandIn) and status != 404:
            stand_in.refusal(status)
        code, message, reason = ERRORS.get(status, ("UNKNOWN", f"status {status}", None))
        error: dict[str, Any] = {"code": status, "message": message, "status": code}
        if reason is not None:
            error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
                                 "domain": "googleapis.com",
                                 "metadata": {"service": "generativelanguage.googleapis.com"}}]
        if status == 429:
            # Google says when to come back; zero keeps a test's retries quick.
            error["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0s"}]
        send_json(self, status, {"error": error})


def gemini_stand_in(replies: list[Reply], api_key: str = "gemini-test-key",
                    model: str = "gemini-2.5-pro") -> GeminiStandIn:
    return GeminiStandIn(GeminiHandler, api_key=api_key, replies=list(replies), model=model)


def conversation(stand_in: VendorStandIn) -> list[Seen]:
    return stand_in.conversation(is_conversation)


# The README's tour: "Add a GREETING.md that says hello".
TOUR_SCRIPT = [
    Reply(text="I'll add the greeting.",
          tool_calls=(ToolCall("write_file", {"file_path": f"{CWD}/GREETING.md",
                                              "content": "# Hello\n\nHello, world!\n"}),),
          input_tokens=1200, output_tokens=80),
    Reply(tool_calls=(ToolCall("run_shell_command", {"command": "cat GREETING.md && git status --short",
                                                     "description": "Show the new file"}),),
          input_tokens=1400, output_tokens=40),
    Reply(text="Added GREETING.md, which says hello.", input_tokens=1500, output_tokens=20),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8789)
    parser.add_argument("--key", default="gemini-test-key", help="the API key it accepts")
    args = parser.parse_args()
    stand_in = gemini_stand_in(TOUR_SCRIPT, api_key=args.key)
    # Serve on the chosen port rather than any free one.
    server = ThreadingHTTPServer(("127.0.0.1", args.port), GeminiHandler)
    server.daemon_threads = True
    server.stand_in = stand_in  # type: ignore[attr-defined]
    print(f"Gemini API stand-in on http://127.0.0.1:{args.port}", flush=True)
    print(f"  GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:{args.port}  GEMINI_API_KEY={args.key}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
