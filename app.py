"""Optio on AWS Lambda: the table of contents. Routes live in `chalicelib/api` (one blueprint per
resource), the event handlers' work in `chalicelib/engine`."""
from __future__ import annotations

from typing import Any

from chalice.app import Chalice, CloudWatchEvent, DynamoDBEvent

from chalicelib.api import auth, comments, health, internal, openapi, repos, secrets, tasks, templates
from chalicelib.engine import launching, resync, stream
from chalicelib.settings import settings

# Logs are powertools' structured JSON (chalicelib.observability), not Chalice's own handler.
app = Chalice(app_name="optio", configure_logs=False)

app.register_middleware(auth.require_token, "http")
for blueprint in (health.bp, auth.bp, repos.bp, tasks.bp, comments.bp, templates.bp, secrets.bp,
                  internal.bp, openapi.bp):
    app.register_blueprint(blueprint)


@app.on_dynamodb_record(stream_arn=settings.tasks_stream_arn, name="task_stream")
def task_stream(event: DynamoDBEvent) -> dict[str, Any]:
    return stream.handle(event.to_dict(), event.context)


@app.schedule("rate(1 minute)", name="resync")
def periodic_resync(event: CloudWatchEvent) -> dict[str, int]:
    return resync.resync()


@app.lambda_function(name="launcher")
def launcher(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return launching.launch(event)
