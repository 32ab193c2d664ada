"""A scripted stand-in of the OpenAI Responses API (https://platform.openai.com/docs/api-reference/responses),
for running the real Codex and OpenCode CLIs offline: each is pointed here through a custom model
provider in its config (the adapters write it from the Optio secret OPENAI_BASE_URL).

POST /v1/responses answers with the scripted replies, streamed as server-sent events exactly as
OpenAI documents them (response.created, response.in_progress, response.output_item.added, for a
message response.content_part.added / response.output_text.delta / response.output_text.done /
response.content_part.done, for a function call response.function_call_arguments.delta / .done,
for a custom (freeform) tool call response.custom_tool_call_input.delta / .done, then
response.output_item.done, and response.completed with the usage), or as one JSON response when
the request does not ask for a stream. POST /v1/chat/completions (streamed chunks or one JSON
completion) and GET /v1/models are answered too, for clients that use them. A request without the
right bearer key gets OpenAI's 401 invalid_api_key error; the stand-in's `refusals` become 429
rate_limit_exceeded / 5xx server errors.

Which requests are the conversation: an agent's own loop offers the model its tools; a side
request (a session title, ...) offers none. Only the conversation consumes the script.

How a scripted tool call is rendered follows the tools the request offered: a tool declared
{"type": "custom"} (Codex's freeform apply_patch) gets a custom_tool_call whose input is the
script's arguments["input"]; any other gets a function_call with the arguments as JSON. `{cwd}` in
an argument becomes the agent's working directory, read from the request.

By hand, to try the README's tour with the real Codex or OpenCode offline:

    .venv/bin/python -m tests.fakes.openai_api --port 8788 --cli codex

prints the base URL and the key to set (as the Optio secrets OPENAI_BASE_URL and OPENAI_API_KEY).
"""
from __future__ import annotations

import argparse
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
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
    with_cwd,
)

# OpenAI's error bodies, by status code: (message, type, code).
ERRORS = {
    400: ("Invalid request", "invalid_request_error", None),
    401: ("Incorrect API key provided: sk-wr***key. You can find your API key at "
          "https://platform.openai.com/account/api-keys.", "invalid_request_error", "invalid_api_key"),
    404: ("The requested resource could not be found.", "invalid_request_error", "not_found"),
    429: ("Rate limit reached for requests. Please try again in 0s.", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}
# Codex tells the model its directory in an <environment_context>; OpenCode in its system prompt.
_CWD_IN_PROMPT = re.compile(r"<cwd>([^<]+)</cwd>|Working directory:\s*(\S+)")


@dataclass
class OpenAIStandIn(VendorStandIn):
    """The stand-in, also keeping the usage it reported and when it refused what."""

    # (input_tokens, output_tokens) of every response it gave, side answers included.
    reported: list[tuple[int, int]] = field(default_factory=list)
    # When each refusal (a wrong key, a rate limit) was answered (time.time()), with its status.
    refused: list[tuple[float, int]] = field(default_factory=list)
    _books: threading.Lock = field(default_factory=threading.Lock)

    def report(self, reply: Reply) -> None:
        with self._books:
            self.reported.append((reply.input_tokens, reply.output_tokens))

    def refusal(self, status: int) -> None:
        with self._books:
            self.refused.append((time.time(), status))

    def script(self, replies: list[Reply]) -> None:
        """Starts a new script: forgets what was served, seen, reported and refused."""
        with self._lock, self._books:
            self.replies = list(replies)
            self.served = 0
            self.requests.clear()
            self.reported.clear()
            self.refused.clear()

    def reported_tokens(self) -> tuple[int, int]:
        with self._books:
            return sum(usage[0] for usage in self.reported), sum(usage[1] for usage in self.reported)


def offered_tools(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The tools a request offers the model, by name: its `tools`, and the tools Codex sends as an
    `additional_tools` input item, namespaces flattened (each tool keeps its namespace's name)."""
    found: dict[str, dict[str, Any]] = {}

    def walk(tools: object, namespace: str | None) -> None:
        for tool in tools if isinstance(tools, list) else []:
            if not isinstance(tool, dict):
                continue
            if tool.get("type") == "namespace":
                walk(tool.get("tools"), str(tool.get("name")))
            else:
                found[str(tool.get("name") or tool.get("type"))] = {**tool, "namespace": namespace}

    walk(body.get("tools"), None)
    for item in body.get("input") if isinstance(body.get("input"), list) else []:
        if isinstance(item, dict) and item.get("type") == "additional_tools":
            walk(item.get("tools"), None)
    return found


def is_conversation(seen: Seen) -> bool:
    """A request of the agent's own loop (it offers the model its tools); not a side request."""
    body = seen.body
    return (seen.method == "POST" and seen.path.split("?")[0].endswith(("/responses", "/chat/completions"))
            and isinstance(body, dict) and bool(offered_tools(body)))


def request_text(seen: Seen) -> str:
    """Everything a request sent the model, flattened: instructions, input items, messages."""
    body = seen.body
    return json.dumps(body) if isinstance(body, dict) else ""


def working_directory(body: dict[str, Any]) -> str | None:
    found = _CWD_IN_PROMPT.search(json.dumps(body).replace("\\n", "\n"))
    return (found.group(1) or found.group(2)).strip() if found else None



def _ids() -> str:
    return uuid.uuid4().hex[:24]


def output_items(reply: Reply, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The reply as Responses API output items, complete."""
    cwd = working_directory(body) or "."
    tools = offered_tools(body)
    items: list[dict[str, Any]] = []
    if reply.text:
        items.append({"id": f"msg_{_ids()}", "type": "message", "status": "completed", "role": "assistant",
                      "content": [{"type": "output_text", "text": reply.text, "annotations": []}]})
    for call in reply.tool_calls:
        arguments = with_cwd(call.arguments, cwd)
        tool = tools.get(call.name, {})
        if tool.get("type") == "custom":
            item = {"id": f"ctc_{_ids()}", "type": "custom_tool_call", "status": "completed",
                    "call_id": f"call_{_ids()}", "name": call.name, "input": str(arguments.get("input", ""))}
        else:
            item = {"id": f"fc_{_ids()}", "type": "function_call", "status": "completed",
                    "call_id": f"call_{_ids()}", "name": call.name, "arguments": json.dumps(arguments)}
        if tool.get("namespace"):
            item["namespace"] = tool["namespace"]
        items.append(item)
    return items


def usage(reply: Reply) -> dict[str, Any]:
    return {"input_tokens": reply.input_tokens, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": reply.output_tokens, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": reply.input_tokens + reply.output_tokens}


class OpenAIHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet: the tests read the recorded requests instead."""

    def do_GET(self) -> None:  # noqa: N802
        stand_in = stand_in_of(self)
        stand_in.record(Seen("GET", self.path, dict(self.headers.items()), None))
        path = self.path.split("?")[0]
        if path.endswith("/models"):
            send_json(self, 200, {"object": "list", "data": [
                {"id": stand_in.model, "object": "model", "created": 1767225600, "owned_by": "stand-in"}]})
            return
        self._error(404)

    def do_POST(self) -> None:  # noqa: N802
        stand_in = stand_in_of(self)
        body = read_json(self)
        seen = Seen("POST", self.path, dict(self.headers.items()), body)
        stand_in.record(seen)
        path = self.path.split("?")[0]
        if self.headers.get("Authorization", "") != f"Bearer {stand_in.api_key}":
            self._refuse(401)
            return
        if not isinstance(body, dict) or not path.endswith(("/responses", "/chat/completions")):
            self._error(404)
            return
        if is_conversation(seen):
            turn = stand_in.next_turn()
            if isinstance(turn, int):
                self._refuse(turn)
                return
            reply = turn
        else:
            reply = Reply(text="Stand-in side answer", input_tokens=10, output_tokens=5)
        if isinstance(stand_in, OpenAIStandIn):
            stand_in.report(reply)
        model = str(body.get("model") or stand_in.model)
        if path.endswith("/chat/completions"):
            self._chat(model, body, reply)
        elif body.get("stream"):
            self._stream(model, body, reply)
        else:
            send_json(self, 200, self._response(model, output_items(reply, body), reply, "completed"))

    def _refuse(self, status: int) -> None:
        stand_in = stand_in_of(self)
        if isinstance(stand_in, OpenAIStandIn):
            stand_in.refusal(status)
        self._error(status)

    def _error(self, status: int) -> None:
        message, kind, code = ERRORS.get(status, (f"status {status}", "server_error", None))
        data = json.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req_{_ids()}")
        if status == 429:
            # OpenAI says when to come back; zero keeps a test's retries quick.
            self.send_header("retry-after", "0")
            self.send_header("retry-after-ms", "0")
        self.end_headers()
        self.wfile.write(data)

    @staticmethod
    def _response(model: str, output: list[dict[str, Any]], reply: Reply, status: str) -> dict[str, Any]:
        return {"id": f"resp_{_ids()}", "object": "response", "created_at": int(time.time()), "status": status,
                "error": None, "incomplete_details": None, "model": model, "output": output,
                "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
                "usage": usage(reply) if status == "completed" else None}

    def _stream(self, model: str, body: dict[str, Any], reply: Reply) -> None:
        start_sse(self)
        sequence = iter(range(1_000_000))

        def event(kind: str, **fields: Any) -> None:
            send_sse(self, {"type": kind, "sequence_number": next(sequence), **fields}, kind)

        response = self._response(model, [], reply, "in_progress")
        event("response.created", response=response)
        event("response.in_progress", response=response)
        items = output_items(reply, body)
        for index, item in enumerate(items):
            if item["type"] == "message":
                text = item["content"][0]["text"]
                event("response.output_item.added", output_index=index, item={**item, "status": "in_progress",
                                                                              "content": []})
                part = {"type": "output_text", "text": "", "annotations": []}
                event("response.content_part.added", item_id=item["id"], output_index=index, content_index=0,
                      part=part)
                for at in range(0, len(text), 40):
                    event("response.output_text.delta", item_id=item["id"], output_index=index, content_index=0,
                          delta=text[at:at + 40], logprobs=[])
                event("response.output_text.done", item_id=item["id"], output_index=index, content_index=0,
                      text=text, logprobs=[])
                event("response.content_part.done", item_id=item["id"], output_index=index, content_index=0,
                      part={**part, "text": text})
            else:
                field, kind = (("input", "custom_tool_call_input") if item["type"] == "custom_tool_call"
                               else ("arguments", "function_call_arguments"))
                event("response.output_item.added", output_index=index, item={**item, "status": "in_progress",
                                                                              field: ""})
                value = item[field]
                for at in range(0, len(value), 40):
                    event(f"response.{kind}.delta", item_id=item["id"], output_index=index, delta=value[at:at + 40])
                event(f"response.{kind}.done", item_id=item["id"], output_index=index, **{field: value})
            event("response.output_item.done", output_index=index, item=item)
        event("response.completed", response=self._response(model, items, reply, "completed"))

    def _chat(self, model: str, body: dict[str, Any], reply: Reply) -> None:
        """Chat Completions, for clients configured with an OpenAI-compatible provider."""
        cwd = working_directory(body) or "."
        calls = [{"id": f"call_{_ids()}", "type": "function",
                  "function": {"name": call.name, "arguments": json.dumps(with_cwd(call.arguments, cwd))}}
                 for call in reply.tool_calls]
        finish = "tool_calls" if calls else "stop"
        chat_usage = {"prompt_tokens": reply.input_tokens, "completion_tokens": reply.output_tokens,
                      "total_tokens": reply.input_tokens + reply.output_tokens}
        base = {"id": f"chatcmpl-{_ids()}", "created": int(time.time()), "model": model}
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
            if calls:
                message["tool_calls"] = calls
            send_json(self, 200, {**base, "object": "chat.completion", "usage": chat_usage,
                                  "choices": [{"index": 0, "message": message, "finish_reason": finish}]})
            return
        start_sse(self)

        def chunk(delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> None:
            send_sse(self, {**base, "object": "chat.completion.chunk", **extra,
                            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]})

        chunk({"role": "assistant", "content": ""})
        for at in range(0, len(reply.text), 40):
            chunk({"content": reply.text[at:at + 40]})
        for index, call in enumerate(calls):
            chunk({"tool_calls": [{"index": index, **call}]})
        chunk({}, finish, usage=chat_usage)
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


def openai_stand_in(replies: list[Reply], api_key: str = "sk-proj-test-key",
                    model: str = "gpt-5-codex") -> OpenAIStandIn:
    return OpenAIStandIn(OpenAIHandler, api_key=api_key, replies=list(replies), model=model)


def conversation(stand_in: VendorStandIn) -> list[Seen]:
    return stand_in.conversation(is_conversation)


# The README's tour ("Add a GREETING.md that says hello") in each CLI's own tools. Codex 0.169
# offers the model one freeform tool, `exec`: JavaScript that calls its nested tools.
GREETING_PATCH = "*** Begin Patch\n*** Add File: GREETING.md\n+# Hello\n+\n+Hello, world!\n*** End Patch\n"


def codex_exec(source: str) -> ToolCall:
    return ToolCall("exec", {"input": source})


TOURS = {
    "codex": [
        Reply(text="I'll add the greeting.",
              tool_calls=(codex_exec(f"await tools.apply_patch({json.dumps(GREETING_PATCH)});\n"
                                     "const shown = await tools.exec_command({cmd: 'cat GREETING.md'});\n"
                                     "text(shown.output);"),),
              input_tokens=1200, output_tokens=80),
        Reply(text="Added GREETING.md, which says hello.", input_tokens=1500, output_tokens=20),
    ],
    "opencode": [
        Reply(text="I'll add the greeting.", tool_calls=(ToolCall("apply_patch", {"patchText": GREETING_PATCH}),),
              input_tokens=1200, output_tokens=80),
        Reply(tool_calls=(ToolCall("bash", {"command": "cat GREETING.md", "description": "Show the new file"}),),
              input_tokens=1400, output_tokens=40),
        Reply(text="Added GREETING.md, which says hello.", input_tokens=1500, output_tokens=20),
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8788)
    parser.add_argument("--key", default="sk-proj-test-key", help="the API key it accepts")
    parser.add_argument("--cli", choices=sorted(TOURS), default="codex", help="whose tools the tour script calls")
    args = parser.parse_args()
    stand_in = openai_stand_in(TOURS[args.cli], api_key=args.key)
    # Serve on the chosen port rather than any free one.
    from http.server import ThreadingHTTPServer

    server = ThreadingHTTPServer(("127.0.0.1", args.port), OpenAIHandler)
    server.daemon_threads = True
    server.stand_in = stand_in  # type: ignore[attr-defined]
    print(f"OpenAI Responses API stand-in on http://127.0.0.1:{args.port}", flush=True)
    print(f"  OPENAI_BASE_URL=http://127.0.0.1:{args.port}/v1  OPENAI_API_KEY={args.key}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
