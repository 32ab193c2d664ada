"""A loopback stand-in for the S3 object API, path-style (`/{bucket}/{key}`, what the SDK uses for
an endpoint that is an IP address): PUT, GET, HEAD and DELETE of objects in the buckets the
template declares, answered with S3's status codes and XML errors. A presigned URL (SigV4 in the
query) is refused once its `X-Amz-Expires` has passed, as S3 refuses it; signatures are not
checked (the stand-ins hold no real keys)."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.loopback import Loopback


def _error(code: int, name: str, message: str) -> tuple[int, dict[str, str], bytes]:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{name}</Code><Message>{message}</Message>'
            f"</Error>").encode()
    return code, {"Content-Type": "application/xml"}, body


@dataclass
class FakeS3:
    buckets: set[str] = field(default_factory=set)
    objects: dict[tuple[str, str], bytes] = field(default_factory=dict)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    _loopback: Loopback | None = None

    def start(self) -> FakeS3:
        self._loopback = Loopback(_handler(self))
        self.url = self._loopback.url
        return self

    def stop(self) -> None:
        if self._loopback is not None:
            self._loopback.stop()

    def handle(self, method: str, target: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(target)
        bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
        query = parse_qs(parts.query)
        if "X-Amz-Expires" in query:
            signed = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            if datetime.now(UTC) > signed + timedelta(seconds=int(query["X-Amz-Expires"][0])):
                return _error(403, "AccessDenied", "Request has expired")
        if bucket not in self.buckets:
            return _error(404, "NoSuchBucket", "The specified bucket does not exist")
        if not key:
            return _error(400, "InvalidRequest", "only object requests are served here")
        with self.lock:
            if method == "PUT":
                self.objects[(bucket, key)] = body
                return 200, {"ETag": f'"{len(body):x}"'}, b""
            if method == "DELETE":
                self.objects.pop((bucket, key), None)
                return 204, {}, b""
            data = self.objects.get((bucket, key))
        if method not in ("GET", "HEAD"):
            return _error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
        if data is None:
            return _error(404, "NoSuchKey", "The specified key does not exist.")
        return 200, {"Content-Type": "application/octet-stream", "ETag": f'"{len(data):x}"'}, data


def _handler(fake: FakeS3) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            code, headers, data = fake.handle(self.command, self.path, body)
            self.send_response(code)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
