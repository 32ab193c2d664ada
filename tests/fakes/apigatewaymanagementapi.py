"""A loopback stand-in for API Gateway's Management API of a WebSocket API (REST-JSON, as boto3's
`apigatewaymanagementapi` speaks it): `POST /{stage}/@connections/{connectionId}` with the
message as the body (200), `DELETE` of it (204), and for a connection that is not open a 410 with
`x-amzn-ErrorType: GoneException`, which boto3 raises as `GoneException`. The test says which
connections are open (`open` / `gone`) and reads what each was sent (`sent`)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from .loopback import Loopback


class FakeManagementApi:
    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.connections: set[str] = set()
        self.sent: dict[str, list[Any]] = {}
        self.gone_posts: list[str] = []
        self._lock = threading.Lock()
        self._loopback: Loopback | None = None

    @property
    def url(self) -> str:
        assert self._loopback is not None
        return f"{self._loopback.url}/{self.stage}"

    def start(self) -> FakeManagementApi:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _connection(self) -> str | None:
                prefix = f"/{fake.stage}/@connections/"
                return unquote(self.path[len(prefix):]) if self.path.startswith(prefix) else None

            def _answer(self, status: int, body: dict[str, Any] | None = None, error: str | None = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if error:
                    self.send_header("x-amzn-ErrorType", error)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                connection = self._connection()
                data = self.rfile.read(int(self.headers.get("content-length") or 0))
                if connection is None:
                    self._answer(404, {"message": "Not Found"}, "NotFoundException")
                    return
                with fake._lock:
                    if connection not in fake.connections:
                        fake.gone_posts.append(connection)
                        self._answer(410, {"message": None}, "GoneException")
                        return
                    fake.sent.setdefault(connection, []).append(json.loads(data))
                self._answer(200)

            def do_DELETE(self) -> None:
                connection = self._connection()
                with fake._lock:
                    if connection not in fake.connections:
                        self._answer(410, {"message": None}, "GoneException")
                        return
                    fake.connections.discard(connection)
                self._answer(204)

        self._loopback = Loopback(Handler)
        return self

    def open(self, connection_id: str) -> None:
        with self._lock:
            self.connections.add(connection_id)

    def gone(self, connection_id: str) -> None:
        with self._lock:
            self.connections.discard(connection_id)

    def messages(self, connection_id: str) -> list[Any]:
        with self._lock:
            return list(self.sent.get(connection_id, []))

    def stop(self) -> None:
        if self._loopback is not None:
            self._loopback.stop()
