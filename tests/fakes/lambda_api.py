"""A loopback stand-in for the AWS Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`),
enough for boto3's `invoke`: an `Event` invocation is answered 202 at once and its handler runs
afterwards on a thread, as Lambda runs it; `RequestResponse` runs it and answers 200 with its result.
Unknown functions get Lambda's 404 ResourceNotFoundException."""
from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from .loopback import Loopback

INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")

Handler = Callable[[dict[str, Any]], Any]


@dataclass
class Invocation:
    function: str
    invocation_type: str
    payload: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


@dataclass
class FakeLambda:
    handlers: dict[str, Handler] = field(default_factory=dict)
    invocations: list[Invocation] = field(default_factory=list)
    url: str = ""
    _loopback: Loopback | None = None

    def start(self) -> FakeLambda:
        self._loopback = Loopback(_handler(self))
        self.url = self._loopback.url
        return self

    def stop(self) -> None:
        if self._loopback is not None:
            self._loopback.stop()

    def invoke(self, name: str, invocation_type: str, payload: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        handler = self.handlers.get(name)
        if handler is None:
            body = {"Type": "User", "message": f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:{name}"}
            return 404, {"x-amzn-ErrorType": "ResourceNotFoundException"}, json.dumps(body).encode()
        invocation = Invocation(name, invocation_type, payload)
        self.invocations.append(invocation)

        def run() -> Any:
            try:
                return handler(payload)
            except BaseException as error:  # noqa: BLE001 - recorded for the test, as Lambda logs it
                invocation.error = error
                return None
            finally:
                invocation.done.set()

        if invocation_type == "Event":
            threading.Thread(target=run, daemon=True).start()
            return 202, {}, b""
        return 200, {"X-Amz-Executed-Version": "$LATEST"}, json.dumps(run()).encode()


def _handler(fake: FakeLambda) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            match = INVOKE.match(self.path.split("?")[0])
            if match is None:
                code, headers, body = 404, {}, b'{"message": "not found"}'
            else:
                code, headers, body = fake.invoke(
                    unquote(match["name"]), self.headers.get("X-Amz-Invocation-Type") or "RequestResponse",
                    json.loads(raw) if raw else {})
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
