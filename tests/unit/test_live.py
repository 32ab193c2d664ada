"""The live logs' decisions (`core.live`): which stream record makes which message, for whom, and
what a client's subscribe asks for; and the tickets that open a socket on another host."""
from __future__ import annotations

import json
from typing import Any

from chalicelib.core.live import (
    MAX_MESSAGE_BYTES,
    Subscribe,
    deliveries,
    lines_messages,
    outgoing,
    parse_subscribe,
)
from chalicelib.core.tokens import live_ticket, live_ticket_subject
from chalicelib.core.validation import FieldProblem


def log_record(execution_id: str, seq: int, content: str = "hello", event: str = "INSERT") -> dict[str, Any]:
    image = {"executionId": {"S": execution_id}, "seq": {"N": str(seq)}, "attempt": {"N": "1"},
             "logType": {"S": "text"}, "content": {"S": content}, "at": {"S": "2026-12-02T10:00:00.000Z"}}
    return {"eventName": event, "dynamodb": {"Keys": {"executionId": image["executionId"], "seq": image["seq"]},
                                             "NewImage": image, "SequenceNumber": str(seq)}}


def execution_record(execution_id: str, old: tuple[int, str] | None, new: tuple[int, str] | None) -> dict[str, Any]:
    def image(version: int, state: str) -> dict[str, Any]:
        return {"id": {"S": execution_id}, "version": {"N": str(version)}, "state": {"S": state},
                "updatedAt": {"S": "2026-12-02T10:00:01.000Z"}, "costUsd": {"N": "0.25"}}
    dynamodb: dict[str, Any] = {"Keys": {"id": {"S": execution_id}}}
    if old:
        dynamodb["OldImage"] = image(*old)
    if new:
        dynamodb["NewImage"] = image(*new)
    return {"eventName": "MODIFY" if old and new else "INSERT" if new else "REMOVE", "dynamodb": dynamodb}


def test_new_lines_become_one_message_per_execution_in_order_of_seq() -> None:
    records = [log_record("t1", 3), log_record("t2", 1, "other"), log_record("t1", 2)]
    messages = outgoing(records)
    assert [line["seq"] for line in messages["t1"][0]["lines"]] == [2, 3]
    assert messages["t1"][0] == {"type": "lines", "id": "t1", "lines": [
        {"seq": 2, "attempt": 1, "type": "text", "content": "hello", "at": "2026-12-02T10:00:00.000Z"},
        {"seq": 3, "attempt": 1, "type": "text", "content": "hello", "at": "2026-12-02T10:00:00.000Z"}]}
    assert messages["t2"][0]["lines"][0]["content"] == "other"


def test_a_moved_version_is_a_state_change_and_a_heartbeat_is_not() -> None:
    messages = outgoing([execution_record("t1", (3, "queued"), (4, "running")),
                         execution_record("t2", (7, "running"), (7, "running")),
                         execution_record("t3", None, (1, "queued")),
                         execution_record("t4", (2, "failed"), None)])
    assert messages == {
        "t1": [{"type": "state", "id": "t1", "state": "running", "version": 4, "updatedAt": "2026-12-02T10:00:01.000Z"}],
        "t3": [{"type": "state", "id": "t3", "state": "queued", "version": 1, "updatedAt": "2026-12-02T10:00:01.000Z"}]}


def test_the_latest_state_of_a_batch_is_sent_after_its_lines() -> None:
    messages = outgoing([execution_record("t1", (3, "queued"), (4, "running")), log_record("t1", 9),
                         execution_record("t1", (4, "running"), (5, "completed"))])
    assert [m["type"] for m in messages["t1"]] == ["lines", "state"]
    assert messages["t1"][1]["state"] == "completed"


def test_a_removed_line_says_nothing() -> None:
    record = log_record("t1", 1, event="REMOVE")
    record["dynamodb"].pop("NewImage")
    assert outgoing([record]) == {}


def test_each_follower_gets_its_executions_messages_and_no_one_elses() -> None:
    messages = outgoing([log_record("t1", 1), log_record("t2", 1)])
    sent = deliveries(messages, {"t1": ["a", "b"], "t3": ["c"]})
    assert sorted(connection for connection, _ in sent) == ["a", "b"]
    assert all(message["id"] == "t1" for _, message in sent)


def test_long_lines_are_cut_into_messages_api_gateway_accepts() -> None:
    lines = [{"seq": n, "attempt": 1, "type": "text", "content": "x" * 20_000, "at": "t"} for n in range(1, 21)]
    messages = lines_messages("t1", lines)
    assert len(messages) > 1
    assert all(len(json.dumps(m).encode()) < 128 * 1024 for m in messages)
    assert all(len(json.dumps(m["lines"]).encode()) <= MAX_MESSAGE_BYTES + 100 for m in messages)
    assert [line["seq"] for m in messages for line in m["lines"]] == list(range(1, 21))


def test_a_subscribe_names_a_task_or_a_run_and_where_to_resume() -> None:
    assert parse_subscribe('{"action":"subscribe","taskId":"t1","after":12}') == Subscribe("t1", 12)
    assert parse_subscribe('{"action":"subscribe","runId":"r1"}') == Subscribe("r1", 0)
    for body, field in (("nope", "body"), ("[1]", "body"), ('{"action":"listen","taskId":"t"}', "action"),
                        ('{"action":"subscribe"}', "taskId"), ('{"action":"subscribe","taskId":"a","runId":"b"}', "taskId"),
                        ('{"action":"subscribe","taskId":"t","after":-1}', "after"),
                        ('{"action":"subscribe","taskId":"t","after":"3"}', "after"),
                        ('{"action":"subscribe","taskId":"t","after":true}', "after")):
        problem = parse_subscribe(body)
        assert isinstance(problem, FieldProblem) and problem.field == field, (body, problem)


def test_a_ticket_opens_as_its_principal_until_it_expires() -> None:
    ticket = live_ticket("key", "user:u_1", "viewer", expires=1000)
    assert live_ticket_subject(("other", "key"), ticket, now_s=999) == ("user:u_1", "viewer")
    assert live_ticket_subject(("key",), ticket, now_s=1000) is None
    assert live_ticket_subject(("other",), ticket, now_s=999) is None
    forged = live_ticket("key", "admin", "admin", expires=1000).rpartition("_")[0] + "_" + ticket.rpartition("_")[2]
    assert live_ticket_subject(("key",), forged, now_s=999) is None
