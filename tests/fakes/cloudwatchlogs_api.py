"""A loopback stand-in for Amazon CloudWatch Logs as boto3 speaks it: the AWS JSON 1.1 protocol
(`POST /`, the operation named by `X-Amz-Target: Logs_20140328.<Operation>`), for CreateLogStream
and PutLogEvents, with the service's errors (`{"__type": "ResourceNotFoundException", ...}`,
`ResourceAlreadyExistsException`, 400). Only the log groups it is given exist. CloudWatch extracts
an embedded metric format document's metrics from the events a group receives: `metrics()` does
that for the documents received (namespace, name, dimensions, value)."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from .loopback import Loopback

Answer = tuple[int, dict[str, Any]]


@dataclass
class FakeCloudWatchLogs:
    groups: set[str]
    # (group, stream) -> the events' messages, in order.
    streams: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    _loopback: Loopback | None = None

    def start(self) -> FakeCloudWatchLogs:
        self._loopback = Loopback(_handler(self))
        self.url = self._loopback.url
        return self

    def stop(self) -> None:
        if self._loopback is not None:
            self._loopback.stop()

    def call(self, operation: str, request: dict[str, Any]) -> Answer:
        group, stream = request.get("logGroupName", ""), request.get("logStreamName", "")
        with self.lock:
            if group not in self.groups:
                return 400, {"__type": "ResourceNotFoundException", "message": "The specified log group does not exist."}
            if operation == "CreateLogStream":
                if (group, stream) in self.streams:
                    return 400, {"__type": "ResourceAlreadyExistsException",
                                 "message": "The specified log stream already exists"}
                self.streams[(group, stream)] = []
                return 200, {}
            if operation == "PutLogEvents":
                if (group, stream) not in self.streams:
                    return 400, {"__type": "ResourceNotFoundException",
                                 "message": "The specified log stream does not exist."}
                self.streams[(group, stream)] += [e["message"] for e in request["logEvents"]]
                return 200, {}
        return 400, {"__type": "InvalidAction", "message": f"no stand-in for {operation}"}

    def metrics(self, group: str) -> list[tuple[str, str, dict[str, str], float]]:
        """The metrics CloudWatch would extract from the group's EMF documents."""
        found = []
        with self.lock:
            messages = [m for (g, _), ms in self.streams.items() if g == group for m in ms]
        for message in messages:
            document = json.loads(message)
            for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
                for dimensions in directive["Dimensions"]:
                    for metric in directive["Metrics"]:
                        values = document[metric["Name"]]
                        for value in values if isinstance(values, list) else [values]:
                            found.append((directive["Namespace"], metric["Name"],
                                          {d: document[d] for d in dimensions}, float(value)))
        return found


def _handler(fake: FakeCloudWatchLogs) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            operation = (self.headers.get("X-Amz-Target") or "").rpartition(".")[2]
            code, answer = fake.call(operation, json.loads(raw or b"{}"))
            body = json.dumps(answer).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
