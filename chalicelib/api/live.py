"""The live logs (README "Live updates"): `GET /api/live` tells the dashboard where its socket is,
and the WebSocket API's `$connect`, messages and `$disconnect` (API Gateway's events) are handed
to `services.live`."""
from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.core.roles import VIEWER
from chalicelib.services import live

from .auth import acting
from .http import route

bp = Blueprint(__name__)


@route(bp, "/api/live", methods=["GET"], role=VIEWER)
def live_socket() -> dict[str, Any]:
    """Where the live logs' WebSocket is, and a ticket that opens it for a minute (url null: poll)"""
    url = live.socket_url()
    return {"url": url, "token": live.ticket(acting(bp.current_request)) if url else None}


def connect(event: dict[str, Any]) -> dict[str, Any]:
    """`$connect`: refused (403, the socket never opens) without a viewer's credentials."""
    caller = live.principal_at_connect(event.get("headers") or {}, event.get("queryStringParameters") or {})
    if caller is None:
        return {"statusCode": 403}
    live.opened(event["requestContext"]["connectionId"], caller)
    return {"statusCode": 200}


def message(event: dict[str, Any]) -> None:
    live.received(event["requestContext"]["connectionId"], event.get("body") or "", live.sender())


def disconnect(event: dict[str, Any]) -> None:
    live.closed(event["requestContext"]["connectionId"])
