"""A loopback stand-in for the AWS Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`),
enough for boto3's `invoke`: an `Event` invocation is answered 202 at once and its handler runs
afterwards on a thread, as Lambda runs it; `RequestResponse` runs it and answers 200 with its result.
Unknown functions get Lambda's 404 ResourceNotFoundException.

Asynchronous events wait in the function's queue while it is closed (`queue(name).clear()`), as
they may for minutes on AWS, and follow the function's asynchronous invocation configuration
(`configs`, AWS::Lambda::EventInvokeConfig's properties): an event older than
MaximumEventAgeInSeconds when it leaves the queue is dropped, an event whose handler raises is
retried MaximumRetryAttempts times (at once here; Lambda waits a minute, then two), and either way
it then goes to the OnFailure destination, a function, as an invocation record in AWS's documented
format (`requestContext.condition` RetriesExhausted or EventAgeExceeded, the event in
`requestPayload`, the last error in `responsePayload`). Without a configuration Lambda's defaults
hold: 6 hours, 2 retries, no destination. The age is measured on `clock`, which a test may move."""
from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from .loopback import Loopback

REGION, ACCOUNT = "us-east-1", "123456789012"
DEFAULT_MAX_AGE_S, DEFAULT_RETRIES = 6 * 3600, 2
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
    # Function name -> its EventInvokeConfig properties (MaximumEventAgeInSeconds, MaximumRetryAttempts,
    # DestinationConfig.OnFailure.Destination: a function's ARN).
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    clock: Callable[[], float] = time.time
    url: str = ""
    _queues: dict[str, threading.Event] = field(default_factory=dict)
    _loopback: Loopback | None = None

    def queue(self, name: str) -> threading.Event:
        """The function's queue of asynchronous events: set, open; cleared, events wait in it."""
        return self._queues.setdefault(name, _opened())

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
            invocation.error = None
            try:
                return handler(payload)
            except BaseException as error:  # noqa: BLE001 - recorded for the test, as Lambda logs it
                invocation.error = error
                return None
            finally:
                invocation.done.set()

        if invocation_type == "Event":
            received = self.clock()
            threading.Thread(target=self._run_event, args=(name, invocation, received, run), daemon=True).start()
            return 202, {}, b""
        return 200, {"X-Amz-Executed-Version": "$LATEST"}, json.dumps(run()).encode()


    def _run_event(self, name: str, invocation: Invocation, received: float, run: Callable[[], Any]) -> None:
        self.queue(name).wait()
        config = self.configs.get(name, {})
        max_age = float(config.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE_S))
        tries = 0
        for _ in range(1 + int(config.get("MaximumRetryAttempts", DEFAULT_RETRIES))):
            if self.clock() - received > max_age:
                self._failed(name, config, invocation, "EventAgeExceeded", tries)
                return
            tries += 1
            run()
            if invocation.error is None:
                return
        self._failed(name, config, invocation, "RetriesExhausted", tries)

    def _failed(self, name: str, config: dict[str, Any], invocation: Invocation, condition: str, tries: int) -> None:
        destination = (config.get("DestinationConfig") or {}).get("OnFailure", {}).get("Destination")
        if not destination:
            return  # dropped, as Lambda drops an event with nowhere to go
        record: dict[str, Any] = {
            "version": "1.0", "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "requestContext": {"requestId": str(uuid.uuid4()), "condition": condition,
                               "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}:$LATEST",
                               "approximateInvokeCount": tries},
            "requestPayload": invocation.payload,
        }
        if invocation.error is not None and tries:
            record["responseContext"] = {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
            record["responsePayload"] = {"errorType": type(invocation.error).__name__,
                                         "errorMessage": str(invocation.error)}
        self.invoke(str(destination).rpartition(":function:")[2], "Event", record)


def _opened() -> threading.Event:
    event = threading.Event()
    event.set()
    return event


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
