"""The live logs as deployed (README "Live updates"): the WebSocket API's functions run with the
template's environment and get API Gateway's events (`$connect` refused without credentials,
accepted with a token; a subscribe replays; `$disconnect` forgets the connection); the logs
table's stream function pushes new lines and the executions stream's function state changes,
through the Management API's stand-in, which answers 410 for a connection that is gone, and the
connection's row is then deleted."""
from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support.api import Api
from tests.support.waiting import wait_for

from .deployment import Deployment
from .template import REGION, WEBSOCKET_API_ID

pytestmark = pytest.mark.xdist_group("topology")

DOMAIN = f"{WEBSOCKET_API_ID}.execute-api.{REGION}.amazonaws.com"


def context(connection_id: str, route: str, kind: str) -> dict[str, Any]:
    """`requestContext` as API Gateway gives a WebSocket API's Lambda proxy integration."""
    return {"routeKey": route, "eventType": kind, "messageDirection": "IN", "stage": "api",
            "connectedAt": 1764720000000, "requestTimeEpoch": 1764720000123, "requestTime": "03/Dec/2026:00:00:00 +0000",
            "extendedRequestId": "Q1b2c3d4=", "requestId": "Q1b2c3d4=", "identity": {"sourceIp": "192.0.2.10"},
            "domainName": DOMAIN, "connectionId": connection_id, "apiId": WEBSOCKET_API_ID}


def connect_event(connection_id: str, query: dict[str, str] | None) -> dict[str, Any]:
    headers = {"Host": DOMAIN, "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits", "X-Forwarded-For": "192.0.2.10",
               "X-Forwarded-Port": "443", "X-Forwarded-Proto": "https"}
    event: dict[str, Any] = {"headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()},
                             "requestContext": context(connection_id, "$connect", "CONNECT"), "isBase64Encoded": False}
    if query:
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
    return event


def message_event(connection_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"requestContext": {**context(connection_id, "$default", "MESSAGE"), "messageId": "Q1b2c3d4="},
            "body": json.dumps(body), "isBase64Encoded": False}


def disconnect_event(connection_id: str) -> dict[str, Any]:
    return {"headers": {"Host": DOMAIN}, "isBase64Encoded": False,
            "requestContext": {**context(connection_id, "$disconnect", "DISCONNECT"),
                               "disconnectStatusCode": 1001, "disconnectReason": "Going away"}}


def connection_row(deployed: Deployment, connection_id: str) -> dict[str, Any] | None:
    client = boto3.client("dynamodb", endpoint_url=deployed.dynamodb_endpoint, region_name=REGION,
                          aws_access_key_id="local", aws_secret_access_key="local")
    item: dict[str, Any] | None = client.get_item(TableName="optio-dev-live-connections",
                                                  Key={"connectionId": {"S": connection_id}}, ConsistentRead=True).get("Item")
    return item


def lines_of(messages: list[dict[str, Any]]) -> list[str]:
    return [line["content"] for m in messages if m["type"] == "lines" for line in m["lines"]]


def test_connect_subscribe_push_gone_and_disconnect_as_deployed(deployed: Deployment, tmp_path: Path) -> None:
    fake = deployed.management_api
    assert fake is not None
    assert deployed.environments["LogStream"]["OPTIO_LIVE_URL"] == f"wss://{DOMAIN}/api"
    connect, message = deployed.functions["WebsocketConnect"], deployed.functions["WebsocketMessage"]
    disconnect = deployed.functions["WebsocketDisconnect"]

    refused = f"r{uuid.uuid4().hex[:10]}="
    assert connect.invoke(connect_event(refused, None))["statusCode"] == 403
    assert connect.invoke(connect_event(refused, {"token": "optio_pat_forged"}))["statusCode"] == 403
    assert connection_row(deployed, refused) is None

    client = Api(deployed.url, deployed.token)
    viewer = client.ok("POST", "/api/auth/api-keys", {"name": "live viewer", "role": "viewer"}, status=201)["token"]
    ticket = Api(deployed.url, viewer).ok("GET", "/api/live")
    assert ticket["url"].startswith(f"wss://{WEBSOCKET_API_ID}.execute-api.")
    watcher = f"w{uuid.uuid4().hex[:10]}="
    assert connect.invoke(connect_event(watcher, {"token": ticket["token"]}))["statusCode"] == 200
    fake.open(watcher)
    assert connection_row(deployed, watcher) is not None

    cue = tmp_path / "cue"
    cue.mkdir()
    config = client.ok("POST", "/api/tasks", {"type": "standalone", "name": f"live {uuid.uuid4().hex[:6]}",
                                              "promptTemplate": f"[fake:echo-dir={cue}] report"}, status=201)
    run_id = client.ok("POST", f"/api/tasks/{config['id']}/runs", {"params": {}}, status=202)["runId"]
    (cue / "01").write_text("before the subscribe")
    wait_for(lambda: any("before the subscribe" in line["content"]
                         for line in client.ok("GET", f"/api/workflow-runs/{run_id}/logs")["items"]),
             timeout_s=120, interval_s=0.3, what="the first line")
    message.invoke(message_event(watcher, {"action": "subscribe", "runId": run_id, "after": 0}))
    replay = fake.messages(watcher)
    assert replay[-1]["type"] == "replayed" and any("before the subscribe" in c for c in lines_of(replay))

    (cue / "02").write_text("pushed by the stream")
    wait_for(lambda: any("pushed by the stream" in c for c in lines_of(fake.messages(watcher)[len(replay):])),
             timeout_s=120, interval_s=0.2, what="the line pushed by the log stream function")
    (cue / "end").write_text("")
    wait_for(lambda: any(m["type"] == "state" and m["state"] == "completed" for m in fake.messages(watcher)),
             timeout_s=120, interval_s=0.2, what="the run's state change, pushed")
    seqs = [line["seq"] for m in fake.messages(watcher) if m["type"] == "lines" for line in m["lines"]]
    stored = [line["seq"] for line in client.ok("GET", f"/api/workflow-runs/{run_id}/logs?limit=200")["items"]]
    assert set(seqs) <= set(stored)

    # The browser went away without a $disconnect: the next post finds it gone (410) and its row goes.
    fake.gone(watcher)
    message.invoke(message_event(watcher, {"action": "subscribe", "runId": run_id, "after": 0}))
    assert watcher in fake.gone_posts
    assert connection_row(deployed, watcher) is None

    # An orderly close: $disconnect deletes the row.
    closing = f"c{uuid.uuid4().hex[:10]}="
    assert connect.invoke(connect_event(closing, {"token": deployed.token}))["statusCode"] == 200
    assert connection_row(deployed, closing) is not None
    disconnect.invoke(disconnect_event(closing))
    assert connection_row(deployed, closing) is None
