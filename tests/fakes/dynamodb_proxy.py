"""A proxy on DynamoDB's wire in front of DynamoDB Local: every request (`POST /`, the operation
named by `X-Amz-Target: DynamoDB_20120810.<Operation>`, AWS JSON 1.0) goes to `answer` first with
the caller's access key id (from its signature's Credential) and its body; what `answer` returns,
(status, payload), is DynamoDB's answer in its own shape; None forwards the request unchanged.
The throttling fault (tests/faults) and the roles' policies (tests/topology) are such answers."""
from __future__ import annotations

import http.client
import json
import re
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from .loopback import Loopback

_CREDENTIAL = re.compile(r"Credential=(?P<key>[^/,\s]+)/")
# (access key id, X-Amz-Target, body) -> DynamoDB's answer, or None to forward.
Answer = Callable[[str, str, bytes], "tuple[int, dict[str, Any]] | None"]


class DynamoDBProxy:
    def __init__(self, upstream: str, answer: Answer) -> None:
        self.upstream = upstream
        self.answer = answer
        self._loopback = Loopback(_handler(self))
        self.url = self._loopback.url

    def stop(self) -> None:
        self._loopback.stop()

    def forward(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(urlsplit(self.upstream).netloc, timeout=60)
        try:
            connection.request("POST", path, body=body, headers=headers)
            answer = connection.getresponse()
            return answer.status, answer.getheaders(), answer.read()
        finally:
            connection.close()


def _handler(proxy: DynamoDBProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            credential = _CREDENTIAL.search(self.headers.get("Authorization") or "")
            answered = proxy.answer(credential["key"] if credential else "", self.headers.get("X-Amz-Target", ""), body)
            if answered is not None:
                code, payload = answered
                self._answer(code, [("Content-Type", "application/x-amz-json-1.0")], json.dumps(payload).encode())
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            code, answer_headers, data = proxy.forward(self.path, headers, body)
            kept = [(k, v) for k, v in answer_headers
                    if k.lower() not in ("content-length", "connection", "transfer-encoding")]
            self._answer(code, kept, data)

        def _answer(self, code: int, headers: list[tuple[str, str]], data: bytes) -> None:
            self.send_response(code)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler
