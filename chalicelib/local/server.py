"""Chalice's local HTTP server, without its reloader, with tokens kept out of its access log."""
from __future__ import annotations

import re
from typing import Any

from chalice.app import Chalice
from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    LocalChalice,
    LocalDevServer,
)

_TOKEN_IN_QUERY = re.compile(r"([?&]token=)[^&\s]*")


def redact(text: str) -> str:
    return _TOKEN_IN_QUERY.sub(r"\1[redacted]", text)


class RedactingRequestHandler(ChaliceRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        super().log_message("%s", redact(format % args))


def make_server(app: Chalice, host: str, port: int) -> LocalDevServer:
    # What chalice.local.create_local_server does, plus our request handler.
    CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
    app.__class__ = CustomLocalChalice
    config = Config.create(chalice_stage="dev", app_name=app.app_name, lambda_timeout=120)
    return LocalDevServer(app, config, host, port, handler_cls=RedactingRequestHandler)
