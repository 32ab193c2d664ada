"""Live logs over WebSocket (README "Live updates"): opening a connection, following an execution
(its lines after a sequence number replayed, then new ones pushed), closing it, and the stream's
fan-out. What goes where is `core.live`'s decision; how a message reaches a connection is the
sender's: API Gateway's Management API on AWS, the local WebSocket server in local mode."""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from http.cookies import CookieError, SimpleCookie
from typing import Any

from chalicelib.core import live
from chalicelib.core.roles import VIEWER, Principal, allows
from chalicelib.core.tokens import live_ticket, live_ticket_subject
from chalicelib.core.validation import FieldProblem
from chalicelib.engine.clock import utcnow
from chalicelib.exceptions import NotFound
from chalicelib.observability import logger
from chalicelib.settings import settings
from chalicelib.store import executions, logs
from chalicelib.store import live as connections

from .apikeys import principal_of

# The dashboard's session cookie (`api.auth` sets it): sent with the upgrade request on the same host.
SESSION_COOKIE = "optio_session"

# Sends one message to one connection; False when the connection is gone.
Sender = Callable[[str, dict[str, Any]], bool]
# Lines read from the table per query while replaying.
REPLAY_PAGE = 500
# A ticket from `GET /api/live` opens a socket within this long.
TICKET_TTL_S = 60

_local: dict[str, Any] = {}


def use_local(sender: Sender, url: str) -> None:
    """Local mode: messages go through the local WebSocket server, which listens at `url`."""
    _local.update(sender=sender, url=url)


def release_local(sender: Sender) -> None:
    if _local.get("sender") == sender:  # a bound method is a new object at each access
        _local.clear()


def socket_url() -> str | None:
    """Where the dashboard opens its socket; None when there is none (the dashboard polls)."""
    return _local.get("url") or settings.live_url or None


def ticket(caller: Principal) -> str:
    expires = int(utcnow().timestamp()) + TICKET_TTL_S
    return live_ticket(settings.run_token_secret.newest(), caller.id, caller.role, expires)


def principal_at_connect(headers: Mapping[str, str], query: Mapping[str, str]) -> Principal | None:
    """Who opens the socket, as the REST API would tell (a Bearer header, the session cookie, a
    `token` parameter), or by a ticket of `GET /api/live`; None when nobody, or not a viewer."""
    lowered = {name.lower(): value for name, value in headers.items()}
    bearer = lowered.get("authorization", "")
    token = (bearer[len("bearer "):].strip() if bearer.lower().startswith("bearer ") else None) \
        or _session_cookie(lowered.get("cookie", "")) or query.get("token")
    if not token:
        return None
    subject = live_ticket_subject(settings.run_token_secret.values(), token, int(utcnow().timestamp()))
    found = Principal(*subject) if subject else principal_of(token)
    return found if found is not None and allows(found.role, VIEWER) else None


def _session_cookie(header: str) -> str | None:
    try:
        morsel = SimpleCookie(header).get(SESSION_COOKIE)
    except CookieError:
        return None
    return morsel.value if morsel and morsel.value else None


def opened(connection_id: str, caller: Principal) -> None:
    connections.opened(connection_id, caller.id, utcnow())


def closed(connection_id: str) -> None:
    connections.closed(connection_id)


def received(connection_id: str, body: str, send: Sender) -> None:
    """A client's message: a subscribe is answered with the lines after its `after`, in order,
    then `replayed`; from then on the stream's fan-out pushes new lines and state changes."""
    request = live.parse_subscribe(body)
    if isinstance(request, FieldProblem):
        send(connection_id, live.error_message(request))
        return
    try:
        executions.get(request.execution_id)
    except NotFound as missing:
        send(connection_id, live.error_message(FieldProblem("taskId", "no such task or run"), str(missing)))
        return
    # Followed before the replay reads: a line written meanwhile is in the replay or pushed, or
    # both (the client drops a sequence number it has).
    if not connections.follow(connection_id, request.execution_id):
        return
    last = request.after
    while True:
        page = logs.after(request.execution_id, last, REPLAY_PAGE)
        if not page:
            break
        lines = [live.line_json(line.attribute_values) for line in page]
        for message in live.lines_messages(request.execution_id, lines):
            if not send(connection_id, message):
                connections.closed(connection_id)
                return
        last = lines[-1]["seq"]
    send(connection_id, {"type": "replayed", "id": request.execution_id, "upTo": last})


def fan_out(records: Iterable[Mapping[str, Any]], send: Sender) -> int:
    """Pushes what a batch of stream records makes to the connections following each execution;
    a connection found gone is forgotten. Returns how many messages were posted."""
    messages = live.outgoing(records)
    followers = {execution_id: connections.followers(execution_id) for execution_id in messages}
    posted = 0
    gone: set[str] = set()
    for connection_id, message in live.deliveries(messages, followers):
        if connection_id in gone:
            continue
        if send(connection_id, message):
            posted += 1
        else:
            gone.add(connection_id)
            connections.closed(connection_id)
    return posted


def sender() -> Sender:
    """Local mode's server, or API Gateway's Management API at the socket's URL."""
    local: Sender | None = _local.get("sender")
    if local is not None:
        return local
    if not settings.live_url:
        raise RuntimeError("no WebSocket API: OPTIO_LIVE_URL is not set")
    return _management_sender(settings.live_url)


@cache
def _management_sender(url: str) -> Sender:
    import boto3

    # The Management API is the socket's URL over HTTPS: wss://<api>.execute-api.<region>.../<stage>.
    # The endpoint has to be given (there is no regional default), so the SDK's standard variable
    # for it, which an explicit endpoint would override, is honoured here.
    endpoint = os.environ.get("AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI") or (
        "https://" + url.removeprefix("wss://") if url.startswith("wss://") else "http://" + url.removeprefix("ws://"))
    client = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint, region_name=settings.region)

    def send(connection_id: str, message: dict[str, Any]) -> bool:
        try:
            client.post_to_connection(ConnectionId=connection_id, Data=json.dumps(message).encode())
        except client.exceptions.GoneException:
            return False
        except Exception:  # noqa: BLE001 - one connection's failure must not stop the others'
            logger.exception("live message not posted", extra={"connectionId": connection_id})
        return True

    return send
