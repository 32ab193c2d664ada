"""Optio on AWS Lambda: the table of contents. Routes live in `chalicelib/api` (one blueprint per
resource), the event handlers' work in `chalicelib/engine`."""
from __future__ import annotations

from typing import Any

from chalice.app import Chalice, CloudWatchEvent, DynamoDBEvent, WebsocketEvent

from chalicelib.api import (
    auth,
    comments,
    connections,
    dashboard,
    github,
    health,
    hooks,
    http,
    internal,
    live,
    openapi,
    public_url,
    repos,
    secrets,
    session,
    setup,
    tasks,
    templates,
    tickets,
    users,
    workflow_runs,
)
from chalicelib.core.cron import schedule_rate
from chalicelib.engine import launching, resync, stream
from chalicelib.engine import live as live_stream
from chalicelib.services import tickets as ticket_sync
from chalicelib.services import triggers
from chalicelib.settings import settings

# Logs are powertools' structured JSON (chalicelib.observability), not Chalice's own handler.
app = Chalice(app_name="optio", configure_logs=False)
# The live logs' WebSocket API (README "Live updates").
app.experimental_feature_flags.update(["WEBSOCKETS"])

# Outermost first: even the errors of authentication and of Chalice itself leave in our shape.
app.register_middleware(http.our_error_shape, "http")
app.register_middleware(auth.require_token, "http")
app.register_middleware(public_url.remember, "http")
for blueprint in (health.bp, auth.bp, repos.bp, tasks.bp, comments.bp, templates.bp, secrets.bp, connections.bp,
                  internal.bp, openapi.bp, hooks.bp, workflow_runs.bp, session.bp, dashboard.bp, github.bp,
                  tickets.bp, users.bp, setup.bp, live.bp):
    app.register_blueprint(blueprint)


@app.on_dynamodb_record(stream_arn=settings.executions_stream_arn, name="execution_stream")
def execution_stream(event: DynamoDBEvent) -> dict[str, Any]:
    return stream.handle(event.to_dict(), event.context)


@app.on_dynamodb_record(stream_arn=settings.logs_stream_arn, name="log_stream")
def log_stream(event: DynamoDBEvent) -> dict[str, int]:
    return live_stream.handle_logs(event.to_dict(), event.context)


@app.on_ws_connect()
def websocket_connect(event: WebsocketEvent) -> dict[str, Any]:
    return live.connect(event.to_dict())


@app.on_ws_message()
def websocket_message(event: WebsocketEvent) -> None:
    live.message(event.to_dict())


@app.on_ws_disconnect()
def websocket_disconnect(event: WebsocketEvent) -> None:
    live.disconnect(event.to_dict())


@app.schedule("rate(1 minute)", name="resync")
def periodic_resync(event: CloudWatchEvent) -> dict[str, int]:
    return resync.resync()


@app.schedule("rate(1 minute)", name="ticket_sync")
def periodic_ticket_sync(event: CloudWatchEvent) -> dict[str, int]:
    return ticket_sync.sync_all()


@app.schedule(schedule_rate(settings.workflow_trigger_interval_ms), name="trigger_tick")
def trigger_tick(event: CloudWatchEvent) -> dict[str, int]:
    return triggers.tick()


# A wake-up from the timers' state machine, or the launcher's on-failure destination record.
@app.lambda_function(name="execution_timer")
def execution_timer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return resync.wake(event)


@app.lambda_function(name="launcher")
def launcher(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return launching.handle(event)
