"""Chalice's local HTTP server, without its reloader, with tokens kept out of its access log, a
listen backlog for many clients at once, and http.server's own errors in our JSON shape."""
from __future__ import annotations

import gzip
import json
import re
from http import HTTPStatus
from typing import Any

from chalice.app import Chalice
from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    LocalChalice,
    LocalDevServer,
    LocalGatewayException,
    ThreadedHTTPServer,
)

from chalicelib.api.dashboard import missing_page
from chalicelib.api.http import error_body

from .live_socket import LiveSockets, is_upgrade

_TOKEN_IN_QUERY = re.compile(r"([?&]token=)[^&\s]*")
# API Gateway's own limit on a request body: anything larger is refused before it is read.
MAX_REQUEST_BYTES = 10 * 1024 * 1024
# The methods the handler serves; any other answers 405 with this list.
SERVED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


# What the local server compresses, from API Gateway's threshold up, as API Gateway does: the
# dashboard's files and the API's JSON (a page of 200 tasks is 260 KB raw, 30 KB gzipped: on a
# phone's connection the overview waited over a second for it). Only for a client that asks.
COMPRESSED_TYPES = ("text/html", "text/css", "text/javascript", "image/svg+xml", "application/json")
MIN_COMPRESSED_BYTES = 1024


def redact(text: str) -> str:
    return _TOKEN_IN_QUERY.sub(r"\1[redacted]", text)


class RedactingRequestHandler(ChaliceRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        super().log_message("%s", redact(format % args))

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server answers a malformed request or an unknown method itself, in HTML and with
        501 for the method; here in our shape, and 405 for a method no route has."""
        headers = {"Content-Type": "application/json", "Connection": "close"}
        if code == HTTPStatus.NOT_IMPLEMENTED:
            code, message = HTTPStatus.METHOD_NOT_ALLOWED, f"method {self.command} is not allowed"
            headers["Allow"] = ", ".join(SERVED_METHODS)
        body = json.dumps(error_body(message or HTTPStatus(code).phrase)).encode()
        self.log_error("code %d, message %s", code, message)
        self.send_response(code)
        self.close_connection = True
        headers["Content-Length"] = str(len(body))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_error_response(self, error: LocalGatewayException) -> None:
        # The local gateway's only error here is "no route matches" (API Gateway's 403 "Missing
        # Authentication Token"): a 404 that says so; a page outside the API is the dashboard's own.
        path = redact(self.path.split("?", 1)[0])
        if self.command in ("GET", "HEAD") and path != "/api" and not path.startswith("/api/"):
            page = missing_page()
            self._send_http_response(page.status_code, page.headers, page.body)
            return
        self._send_http_response(404, {"Content-Type": "application/json"},
                                 json.dumps(error_body(f"no route for {self.command} {path}")))

    def _send_http_response_with_body(self, code: int, headers: dict[str, str], body: str | bytes) -> None:
        """The dashboard's files and the API's JSON gzipped when the client accepts it, as API
        Gateway does on AWS (`minimum_compression_size` in .chalice/config.json)."""
        # A route that returns a dict sets no Content-Type: Chalice sends it as JSON.
        content_type = headers.get("Content-Type", "application/json")
        accepts = "gzip" in self.headers.get("accept-encoding", "").lower()
        if accepts and content_type.startswith(COMPRESSED_TYPES) and "Content-Encoding" not in headers:
            raw = body.encode("utf-8") if isinstance(body, str) else body
            if len(raw) >= MIN_COMPRESSED_BYTES:
                body = gzip.compress(raw, compresslevel=6, mtime=0)
                headers = {**headers, "Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        super()._send_http_response_with_body(code, headers, body)

    def _checked_handle(self) -> None:
        """Chalice reads exactly Content-Length bytes: a missing length on a chunked body, a
        length that is not a number, or one too large would desynchronise or stall the
        connection, so they are answered before anything is read."""
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            self.send_error(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length")
            return
        length = self.headers.get("content-length", "0").strip()
        if not length.isdigit():
            self.send_error(HTTPStatus.BAD_REQUEST, "Content-Length must be a non-negative integer")
            return
        if int(length) > MAX_REQUEST_BYTES:
            self.send_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "the body is larger than 10 MiB")
            return
        sockets: LiveSockets | None = getattr(self.server, "live", None)
        if sockets is not None and is_upgrade(self):
            sockets.serve(self)  # the live logs' WebSocket, held on this thread until it closes
            return
        self._generic_handle()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _checked_handle


class OptioHTTPServer(ThreadedHTTPServer):
    # socketserver's default backlog of 5 resets the connections of a burst of clients.
    request_queue_size = 256


def make_server(app: Chalice, host: str, port: int, live: LiveSockets | None = None) -> LocalDevServer:
    # What chalice.local.create_local_server does, plus our request handler and server.
    # Served a second time in one process (tests that start a stack per module), the app already
    # is a CustomLocalChalice: swapping its class again would make it its own base.
    if not isinstance(app, CustomLocalChalice):
        CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
        app.__class__ = CustomLocalChalice
    config = Config.create(chalice_stage="dev", app_name=app.app_name, lambda_timeout=120)
    server = LocalDevServer(app, config, host, port, handler_cls=RedactingRequestHandler,
                            server_cls=OptioHTTPServer)
    server.server.live = live
    return server
