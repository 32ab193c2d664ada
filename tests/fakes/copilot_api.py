"""A scripted stand-in of the OpenAI Chat Completions API
(https://platform.openai.com/docs/api-reference/chat), the wire format GitHub Copilot CLI speaks
to a custom model provider: `COPILOT_PROVIDER_BASE_URL=<url>/v1` (with the default provider type
"openai" and wire API "completions") points the CLI here instead of GitHub's model routing, and
`COPILOT_PROVIDER_API_KEY` is sent as `Authorization: Bearer <key>`.

POST /v1/chat/completions answers with the scripted replies, streamed as server-sent events the
way OpenAI documents them (`chat.completion.chunk` objects: a role delta, content deltas,
`tool_calls` deltas, a chunk with `finish_reason`, then, because the CLI asks for
`stream_options.include_usage`, a last chunk with empty `choices` and the `usage`, then
`data: [DONE]`), or as one `chat.completion` when the request does not ask for a stream. A wrong
key gets OpenAI's 401 `invalid_api_key`; the stand-in's `refusals` become 429
`rate_limit_exceeded` / 500 `server_error` / 503 overloaded.

Which requests are the conversation: the CLI's agent loop sends its tools with every request (the
user's turn marked `X-Interaction-Type: conversation-user`, the turns that carry tool results
`X-Initiator: agent`); a side request (a session title, ...) sends none, or names another
interaction type. Only the conversation consumes the script; a side request gets a short text
answer. GET /v1/models lists the stand-in's model.

By hand, to try the README's tour with the real CLI offline:

    .venv/bin/python -m tests.fakes.copilot_api --port 8788

prints the variables to set (as Optio secrets COPILOT_PROVIDER_BASE_URL, COPILOT_PROVIDER_API_KEY
and COPILOT_MODEL); its default script writes GREETING.md, runs a shell command and finishes.
"""
from __future__ import annotations

import argparse
import json
import re
import time
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any

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

# OpenAI's error bodies, by status code: (type, code, message).
ERRORS = {
    400: ("invalid_request_error", None, "Invalid request"),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Forbidden"),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again in 0s."),
    500: ("server_error", None, "The server had an error while processing your request."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}
COMPLETIONS = "/v1/chat/completions"
_CWD_IN_PROMPT = re.compile(r"Current working directory:\s*(\S+)")


def is_conversation(seen: Seen) -> bool:
    """A request of the agent's own loop; not a side request."""
    body = seen.body
    interaction = {k.lower(): v for k, v in seen.headers.items()}.get("x-interaction-type", "")
    return (seen.method == "POST" and seen.path.split("?")[0] == COMPLETIONS
            and isinstance(body, dict) and bool(body.get("tools"))
            and (not interaction or interaction.startswith("conversation")))


def messages_of(seen: Seen) -> list[dict[str, Any]]:
    body = seen.body
    messages = body.get("messages") if isinstance(body, dict) else None
    return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []


def text_of(message: dict[str, Any]) -> str:
    """All text a message carries (a string, or content parts)."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    return "\n".join(str(part.get("text", "")) for part in content or []
                     if isinstance(part, dict) and part.get("type") == "text")


def working_directory(body: dict[str, Any]) -> str | None:
    for message in body.get("messages", []):
        if isinstance(message, dict):
            found = _CWD_IN_PROMPT.search(text_of(message))
            if found:
                return found.group(1)
    return None



def tool_calls(reply: Reply, cwd: str) -> list[dict[str, Any]]:
    return [{"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
             "function": {"name": call.name, "arguments": json.dumps(with_cwd(call.arguments, cwd))}}
            for call in reply.tool_calls]


def usage(reply: Reply) -> dict[str, Any]:
    return {"prompt_tokens": reply.input_tokens, "completion_tokens": reply.output_tokens,
            "total_tokens": reply.input_tokens + reply.output_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0,
                                          "rejected_prediction_tokens": 0}}


class ChatCompletionsHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet: the tests read the recorded requests instead."""

    def do_GET(self) -> None:  # noqa: N802
        stand_in = stand_in_of(self)
        stand_in.record(Seen("GET", self.path, dict(self.headers.items()), None))
        if not self._authorized(stand_in):
            self._error(401)
            return
        if self.path.split("?")[0] == "/v1/models":
            send_json(self, 200, {"object": "list", "data": [
                {"id": stand_in.model, "object": "model", "created": 1767225600, "owned_by": "stand-in"}]})
            return
        self._error(404)

    def do_POST(self) -> None:  # noqa: N802
        stand_in = stand_in_of(self)
        body = read_json(self)
        seen = Seen("POST", self.path, dict(self.headers.items()), body)
        stand_in.record(seen)
        if not self._authorized(stand_in):
            self._error(401)
            return
        if self.path.split("?")[0] != COMPLETIONS or not isinstance(body, dict):
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
        calls = tool_calls(reply, working_directory(body) or ".")
        if body.get("stream"):
            self._stream(model, reply, calls)
        else:
            send_json(self, 200, self._completion(model, reply, calls))

    def _authorized(self, stand_in: VendorStandIn) -> bool:
        return self.headers.get("Authorization", "") == f"Bearer {stand_in.api_key}"

    def _error(self, status: int) -> None:
        kind, code, message = ERRORS.get(status, ("server_error", None, f"status {status}"))
        data = json.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex}")
        if status in (429, 503):
            # OpenAI says when to come back; zero keeps a test's retries quick.
            self.send_header("retry-after", "0")
            self.send_header("retry-after-ms", "0")
        self.end_headers()
        self.wfile.write(data)

    @staticmethod
    def _completion(model: str, reply: Reply, calls: list[dict[str, Any]]) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None, "refusal": None}
        if calls:
            message["tool_calls"] = calls
        return {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion",
                "created": int(time.time()), "model": model, "system_fingerprint": "fp_stand_in",
                "choices": [{"index": 0, "message": message, "logprobs": None,
                             "finish_reason": "tool_calls" if calls else "stop"}],
                "usage": usage(reply)}

    def _stream(self, model: str, reply: Reply, calls: list[dict[str, Any]]) -> None:
        start_sse(self)
        ident = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())

        def chunk(choices: list[dict[str, Any]], **extra: Any) -> None:
            send_sse(self, {"id": ident, "object": "chat.completion.chunk", "created": created,
                            "model": model, "system_fingerprint": "fp_stand_in", "choices": choices,
                            **extra})

        def delta(value: dict[str, Any], finish: str | None = None) -> None:
            chunk([{"index": 0, "delta": value, "logprobs": None, "finish_reason": finish}])

        delta({"role": "assistant", "content": "", "refusal": None})
        # Text arrives in a few pieces, as a model streams it.
        for piece in re.findall(r"\S+\s*|\s+", reply.text):
            delta({"content": piece})
        for index, call in enumerate(calls):
            function = call["function"]
            delta({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                   "function": {"name": function["name"], "arguments": ""}}]})
            arguments = function["arguments"]
            half = len(arguments) // 2
            for part in (arguments[:half], arguments[half:]):
                delta({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
        delta({}, "tool_calls" if calls else "stop")
        chunk([], usage=usage(reply))
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


def start(api_key: str = "sk-test-key", replies: list[Reply] | None = None,
          model: str = "claude-sonnet-4.6") -> VendorStandIn:
    return VendorStandIn(ChatCompletionsHandler, api_key=api_key, replies=list(replies or []),
                         model=model).start()


def tour_script() -> list[Reply]:
    return [
        Reply(tool_calls=(ToolCall("create", {"path": f"{CWD}/GREETING.md",
                                              "file_text": "Hello from the Copilot stand-in\n"}),),
              input_tokens=1200, output_tokens=60),
        Reply(tool_calls=(ToolCall("bash", {"command": "ls", "description": "List the files"}),),
              input_tokens=1400, output_tokens=40),
        Reply(text="Wrote GREETING.md and listed the files.", input_tokens=1500, output_tokens=20),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8788)
    parser.add_argument("--key", default="sk-test-key")
    args = parser.parse_args()
    from http.server import ThreadingHTTPServer

    stand_in = VendorStandIn(ChatCompletionsHandler, api_key=args.key, replies=tour_script(),
                             model="claude-sonnet-4.6")
    server = ThreadingHTTPServer(("127.0.0.1", args.port), ChatCompletionsHandler)
    server.stand_in = stand_in  # type: ignore[attr-defined]
    print(f"COPILOT_PROVIDER_BASE_URL=http://127.0.0.1:{args.port}/v1")
    print(f"COPILOT_PROVIDER_API_KEY={args.key}")
    print(f"COPILOT_MODEL={stand_in.model}")
    server.serve_forever()


if __name__ == "__main__":
    main()
