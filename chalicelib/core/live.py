"""Live logs and state changes (README "Live updates"): which messages the stream records of the
logs and executions tables make, and which connection gets which. The one place that decides:
on AWS the stream functions post what it says through API Gateway's Management API, locally the
stream pollers through the local WebSocket server.

Messages (server to client), JSON:
  {"type": "lines", "id": <execution id>, "lines": [<log line as GET .../logs gives it>, ...]}
  {"type": "replayed", "id": <execution id>, "upTo": <seq>}   the replay of a subscribe is done
  {"type": "state", "id": <execution id>, "state": ..., "version": ..., "updatedAt": ...}
  {"type": "error", "error": <message>, "details": [{"field": ..., "problem": ...}]}
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .validation import FieldProblem

# API Gateway refuses a message over 128 KB; lines are cut into messages under this many bytes.
MAX_MESSAGE_BYTES = 96 * 1024
# A connection's row outlives a lost $disconnect by at most this: API Gateway closes every
# WebSocket connection after two hours.
CONNECTION_TTL_S = 2 * 60 * 60


@dataclass(frozen=True)
class Subscribe:
    execution_id: str
    after: int


def parse_subscribe(body: str) -> Subscribe | FieldProblem:
    """`{"action": "subscribe", "taskId" | "runId": ..., "after": <seq>}` or what is wrong with it."""
    try:
        message = json.loads(body)
    except ValueError:
        return FieldProblem("body", "must be a JSON object")
    if not isinstance(message, dict):
        return FieldProblem("body", "must be a JSON object")
    if message.get("action") != "subscribe":
        return FieldProblem("action", "must be subscribe")
    ids = [message[name] for name in ("taskId", "runId") if name in message]
    if len(ids) != 1 or not isinstance(ids[0], str) or not ids[0] or len(ids[0]) > 200:
        return FieldProblem("taskId", "give one of taskId or runId, a non-empty string")
    after = message.get("after", 0)
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        return FieldProblem("after", "must be a non-negative integer")
    return Subscribe(ids[0], after)


def error_message(problem: FieldProblem, text: str = "invalid message") -> dict[str, Any]:
    return {"type": "error", "error": text, "details": [{"field": problem.field, "problem": problem.problem}]}


def _plain(value: Mapping[str, Any]) -> Any:
    """One DynamoDB-JSON attribute value (a stream image's) as plain JSON."""
    kind, inner = next(iter(value.items()))
    if kind == "N":
        number = float(inner)
        return int(number) if number.is_integer() else number
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: _plain(v) for k, v in inner.items()}
    if kind == "L":
        return [_plain(v) for v in inner]
    return inner  # S, BOOL (binary and sets are not in these tables)


def _image(record: Mapping[str, Any], which: str) -> dict[str, Any]:
    return {k: _plain(v) for k, v in record.get("dynamodb", {}).get(which, {}).items()}


def line_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A log row (attribute names of `ExecutionLogModel`) in the shape `GET .../logs` gives."""
    return {"seq": int(row["seq"]), "attempt": int(row["attempt"]), "type": row["logType"],
            "content": row["content"], "at": row["at"]}


def lines_messages(execution_id: str, lines: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Lines in order of seq, cut into messages that API Gateway accepts."""
    messages: list[dict[str, Any]] = []
    batch: list[dict[str, Any]] = []
    size = 0
    for line in sorted(lines, key=lambda item: item["seq"]):
        line_size = len(json.dumps(line).encode())
        if batch and size + line_size > MAX_MESSAGE_BYTES:
            messages.append({"type": "lines", "id": execution_id, "lines": batch})
            batch, size = [], 0
        batch.append(line)
        size += line_size
    if batch:
        messages.append({"type": "lines", "id": execution_id, "lines": batch})
    return messages


def outgoing(records: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The messages a batch of stream records makes, by execution id: new log lines (the logs
    table: keys executionId and seq), and state changes (the executions table: key id) when the
    version moved; heartbeats and running cost leave it where it was and are not news."""
    lines: dict[str, list[dict[str, Any]]] = {}
    states: dict[str, dict[str, Any]] = {}
    for record in records:
        keys = record.get("dynamodb", {}).get("Keys", {})
        new = _image(record, "NewImage")
        if not new:
            continue  # a removed row: nothing to show
        if "executionId" in keys and "seq" in keys:
            lines.setdefault(str(new["executionId"]), []).append(line_json(new))
        elif "id" in keys and new.get("version") != _image(record, "OldImage").get("version"):
            # The latest of a batch is enough: each says the whole state.
            states[str(new["id"])] = {"type": "state", "id": new["id"], "state": new.get("state"),
                                      "version": new.get("version"), "updatedAt": new.get("updatedAt")}
    messages: dict[str, list[dict[str, Any]]] = {}
    for execution_id, found in lines.items():
        messages[execution_id] = lines_messages(execution_id, found)
    for execution_id, state in states.items():
        messages.setdefault(execution_id, []).append(state)
    return messages


def deliveries(messages: Mapping[str, list[dict[str, Any]]],
               subscribers: Mapping[str, Sequence[str]]) -> list[tuple[str, dict[str, Any]]]:
    """(connection id, message) pairs: each subscriber of an execution gets its messages, in order."""
    return [(connection, message)
            for execution_id, found in messages.items()
            for connection in subscribers.get(execution_id, ())
            for message in found]
