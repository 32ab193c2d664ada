"""Local stand-in for the live logs' WebSocket API: the local server answers an upgrade request
at `PATH` itself (RFC 6455: the handshake, then text frames each way), hands API Gateway-shaped
`$connect`, message and `$disconnect` events to the same handlers as on AWS (`api.live`), and
is the sender the fan-out posts through (`services.live.use_local`), as the Management API is on
AWS. Only what a browser and those handlers need: text messages, ping, close."""
from __future__ import annotations

import base64
import hashlib
import json
import socket
import struct
import threading
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from chalicelib.api import live

PATH = "/api/live/socket"
_ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_TEXT, _CLOSE, _PING, _PONG, _CONTINUATION = 0x1, 0x8, 0x9, 0xA, 0x0
# API Gateway's limit on a client's message; a larger one closes the connection (1009).
MAX_MESSAGE_BYTES = 128 * 1024
STAGE = "local"


def is_upgrade(handler: BaseHTTPRequestHandler) -> bool:
    return (handler.command == "GET" and urlsplit(handler.path).path == PATH
            and handler.headers.get("upgrade", "").lower() == "websocket")


class _Closed(Exception):
    pass


class LiveSockets:
    """The open connections by id, and the sender that writes to them."""

    def __init__(self, host: str, port: int) -> None:
        self.domain = f"{host}:{port}"
        self._open: dict[str, tuple[socket.socket, threading.Lock]] = {}
        self._guard = threading.Lock()

    def send(self, connection_id: str, message: dict[str, Any]) -> bool:
        with self._guard:
            found = self._open.get(connection_id)
        if found is None:
            return False  # the Management API's 410 Gone
        sock, lock = found
        try:
            with lock:
                sock.sendall(_frame(_TEXT, json.dumps(message).encode()))
        except OSError:
            return False
        return True

    def close_all(self) -> None:
        """The server stops: each connection's thread sees its socket end and says $disconnect."""
        with self._guard:
            found = list(self._open.values())
        for sock, _ in found:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        """Runs one connection on the request's thread until it closes."""
        handler.close_connection = True
        connection_id = base64.b64encode(uuid.uuid4().bytes[:12]).decode()  # API Gateway's shape
        headers = dict(handler.headers.items())
        query = dict(parse_qsl(urlsplit(handler.path).query))
        answer = live.connect(self._event(connection_id, "$connect", "CONNECT", headers=headers,
                                          queryStringParameters=query or None))
        key = handler.headers.get("sec-websocket-key", "")
        if answer.get("statusCode") != 200 or not key or handler.headers.get("sec-websocket-version") != "13":
            status = 400 if answer.get("statusCode") == 200 else 403
            body = json.dumps({"message": "Forbidden" if status == 403 else "Bad Request"}).encode()
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
            if status == 400:
                live.disconnect(self._event(connection_id, "$disconnect", "DISCONNECT"))
            return
        accept = base64.b64encode(hashlib.sha1((key + _ACCEPT_GUID).encode()).digest()).decode()
        handler.send_response_only(101)
        handler.send_header("Upgrade", "websocket")
        handler.send_header("Connection", "Upgrade")
        handler.send_header("Sec-WebSocket-Accept", accept)
        handler.end_headers()
        handler.wfile.flush()
        sock: socket.socket = handler.connection
        sock.settimeout(None)
        with self._guard:
            self._open[connection_id] = (sock, threading.Lock())
        try:
            self._read_messages(connection_id, handler)
        except (_Closed, OSError):
            pass
        finally:
            with self._guard:
                self._open.pop(connection_id, None)
            live.disconnect(self._event(connection_id, "$disconnect", "DISCONNECT"))

    def _read_messages(self, connection_id: str, handler: BaseHTTPRequestHandler) -> None:
        reader = handler.rfile
        parts: list[bytes] = []
        while True:
            final, opcode, payload = _read_frame(reader)
            if opcode == _CLOSE:
                self._control(connection_id, _CLOSE, payload[:2])
                return
            if opcode == _PING:
                self._control(connection_id, _PONG, payload)
                continue
            if opcode in (_TEXT, _CONTINUATION):
                parts.append(payload)
                if sum(len(p) for p in parts) > MAX_MESSAGE_BYTES:
                    self._control(connection_id, _CLOSE, struct.pack("!H", 1009))
                    return
                if final:
                    body = b"".join(parts).decode("utf-8", "replace")
                    parts = []
                    live.message(self._event(connection_id, "$default", "MESSAGE", body=body))

    def _control(self, connection_id: str, opcode: int, payload: bytes) -> None:
        with self._guard:
            found = self._open.get(connection_id)
        if found is not None:
            with found[1]:
                found[0].sendall(_frame(opcode, payload))

    def _event(self, connection_id: str, route: str, kind: str, **fields: Any) -> dict[str, Any]:
        """An event as API Gateway gives a WebSocket API's integration."""
        return {"requestContext": {"routeKey": route, "eventType": kind, "connectionId": connection_id,
                                   "domainName": self.domain, "stage": STAGE, "apiId": "local"},
                "isBase64Encoded": False, **fields}


def _frame(opcode: int, payload: bytes) -> bytes:
    """A final, unmasked frame (a server's frames are never masked)."""
    head = bytes([0x80 | opcode])
    if len(payload) < 126:
        return head + bytes([len(payload)]) + payload
    if len(payload) < 1 << 16:
        return head + bytes([126]) + struct.pack("!H", len(payload)) + payload
    return head + bytes([127]) + struct.pack("!Q", len(payload)) + payload


def _read_exactly(reader: Any, count: int) -> bytes:
    data = reader.read(count)
    if len(data) < count:
        raise _Closed
    return bytes(data)


def _read_frame(reader: Any) -> tuple[bool, int, bytes]:
    first, second = _read_exactly(reader, 2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", _read_exactly(reader, 2))[0]
    elif length == 127:
        length = struct.unpack("!Q", _read_exactly(reader, 8))[0]
    if length > MAX_MESSAGE_BYTES or not second & 0x80:
        raise _Closed  # too large, or an unmasked client frame, which RFC 6455 says to fail
    mask = _read_exactly(reader, 4)
    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(_read_exactly(reader, length)))
    return bool(first & 0x80), first & 0x0F, payload
