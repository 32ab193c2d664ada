"""The executions table's stream: every changed execution (repo task or run) is reconciled, then
the queues are dispatched. It is the one way the executor is woken: creates, requests, reports and
triggers only write.

Records that fail are reported back as `batchItemFailures` (powertools' batch utility), so
only they are delivered again.
"""
from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from chalicelib.core.tickets import writeback_event
from chalicelib.engine.ticket_writeback import write_back
from chalicelib.observability import logger
from chalicelib.store import triggers

from .dispatcher import dispatch
from .executor import give_up, reconcile, reconcile_related
from .live import push_states

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord


@cache
def processor() -> BatchProcessor:
    # Built on the first batch: the batch utility is a tenth of a cold start, and only the stream
    # function uses it (every function loads this module through app.py).
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

    return BatchProcessor(event_type=EventType.DynamoDBStreams)


def wakes_reconciler(record: DynamoDBRecord) -> bool:
    """Heartbeats and running cost change a row without moving its version: nothing to decide,
    but for an agent's first heartbeat, a run's start (its stall deadline starts then). A removed
    row has nothing left to decide but what waits for it."""
    name = record.event_name.name if record.event_name else ""
    if name in ("INSERT", "REMOVE"):
        return True
    if name != "MODIFY" or record.dynamodb is None:
        return False
    old = record.dynamodb.old_image or {}
    new = record.dynamodb.new_image or {}
    return old.get("version") != new.get("version") or (
        "lastHeartbeatAt" in new and "lastHeartbeatAt" not in old)


# Entering one of these may release dependents or finish a parent's pipeline.
RESOLVING = frozenset({"completed", "pr_opened", "failed", "cancelled"})
# A record whose task cannot be reconciled is reported in `batchItemFailures` (delivered again)
# this many times; then its task fails and the record is done, so the shard moves on. Fewer than
# the deliveries a record gets before the trigger drops it (local 4, AWS 6).
POISON_TRIES = 3


def record_handler(record: DynamoDBRecord) -> None:
    if not wakes_reconciler(record) or record.dynamodb is None:
        return
    keys = record.dynamodb.keys
    if not keys or "id" not in keys:
        return
    new = record.dynamodb.new_image or {}
    old = record.dynamodb.old_image or {}
    if not new:
        # Deleted: the tasks waiting for it fail now rather than wait forever.
        reconcile_related(str(keys["id"]), None)
        return
    try:
        reconcile(str(keys["id"]))
    except Exception as error:
        # Counted per delivered version: a Lambda retry is a new invocation with no memory.
        tries = triggers.hit(f"stream-tries#{keys['id']}#{new.get('version')}")
        if tries < POISON_TRIES:
            raise
        logger.exception("stream record given up", extra={"executionId": str(keys["id"]), "tries": tries})
        give_up(str(keys["id"]), error)
        return
    if new.get("state") in RESOLVING and new.get("state") != old.get("state"):
        reconcile_related(str(keys["id"]), new.get("parentId"))
    event = writeback_event(old.get("state"), new.get("state"))
    if event is not None:
        write_back(str(keys["id"]), event)


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import process_partial_response

    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor(), context=context
    )
    try:
        dispatch()
    except Exception:
        # The next batch or the periodic resync dispatches again; the records themselves are done.
        logger.exception("dispatch failed after stream batch")
    push_states(event)
    return dict(response)
