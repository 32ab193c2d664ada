"""What the runner tells us over `POST /api/internal/tasks/:id/events`.

The token names its attempt; a report from an attempt that is no longer the task's current one
is refused with 409, so a superseded agent can neither move the task nor add to its logs.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.core import accounting
from chalicelib.core.reconcile import RunReport, outcome
from chalicelib.core.schemas import RUNNER_EVENT
from chalicelib.core.states import TaskState
from chalicelib.core.timefmt import iso
from chalicelib.core.tokens import run_token_attempt
from chalicelib.exceptions import Conflict, Unauthorized
from chalicelib.store import logs, tasks
from chalicelib.store.models import TaskModel

from .clock import utcnow
from .secrets import run_token_secret
from .validation import require_valid

S = TaskState
CAS_TRIES = 4
SUMMARY_MAX = 4000


def handle_runner_event(task_id: str, token: str | None, body: Any) -> dict[str, Any]:
    attempt = run_token_attempt(run_token_secret(), task_id, token or "")
    if attempt is None:
        raise Unauthorized("invalid run token")
    event = require_valid(RUNNER_EVENT, body)
    if event["attempt"] != attempt:
        raise Unauthorized("the run token belongs to another attempt")
    kind = event["kind"]
    if kind == "logs":
        return _logs(task_id, attempt, event)
    if kind == "heartbeat":
        changes: dict[str, Any] = {"lastHeartbeatAt": iso(utcnow())}
        if event.get("costUsd") is not None:
            # The spent figures are fixed for the attempt, and the write is conditional on it.
            changes.update(accounting.with_attempt(accounting.figures(tasks.get(task_id)), event))
        if not tasks.record_progress(task_id, attempt, changes):
            raise Conflict("this attempt is no longer running", **_current(task_id))
        return {"ok": True}
    for _ in range(CAS_TRIES):
        task = _current_attempt(task_id, attempt)
        try:
            if kind == "started":
                _started(task)
            else:
                _result(task, event)
            return {"ok": True}
        except tasks.LostRace:
            continue
    raise Conflict("the task kept changing; report again")


def _current(task_id: str) -> dict[str, Any]:
    task = tasks.get(task_id)
    return {"state": task.state, "attempt": int(task.attempt)}


def _current_attempt(task_id: str, attempt: int) -> TaskModel:
    task = tasks.get(task_id)
    if int(task.attempt) != attempt or S(task.state) not in (S.PROVISIONING, S.RUNNING):
        raise Conflict("this attempt is no longer current", state=task.state, attempt=int(task.attempt))
    return task


def _logs(task_id: str, attempt: int, event: Mapping[str, Any]) -> dict[str, Any]:
    _current_attempt(task_id, attempt)
    now = iso(utcnow())
    lines = [
        logs.LogLine(line["type"], line["content"], line.get("at") or now) for line in event["lines"]
    ]
    return {"ok": True, "lastSeq": logs.append(task_id, attempt, lines)}


def _started(task: TaskModel) -> None:
    if S(task.state) is S.PROVISIONING:
        tasks.transition(task, S.RUNNING, trigger="runner", message="agent started", now=utcnow())


def _result(task: TaskModel, event: Mapping[str, Any]) -> None:
    if S(task.state) is S.PROVISIONING:
        task = tasks.transition(task, S.RUNNING, trigger="runner", message="agent started", now=utcnow())
    report = RunReport(
        success=event["result"] == "success",
        changed=bool(event.get("changed")),
        pushed=bool(event.get("pushed")),
        pr_url=event.get("prUrl"),
        error=event.get("error"),
        error_kind=event.get("errorKind"),
        review=task.taskType == "review",
    )
    decision = outcome(report)
    summary = event.get("summary")
    reported = {
        "costUsd": event.get("costUsd"),
        "inputTokens": event.get("inputTokens"),
        "outputTokens": event.get("outputTokens"),
        "modelUsed": event.get("model"),
        "sessionId": event.get("sessionId"),
        "commitSha": event.get("commitSha"),
        "resultSummary": summary[:SUMMARY_MAX] if summary else None,
        "prUrl": None if report.review else event.get("prUrl"),
        "prNumber": None if report.review else event.get("prNumber"),
    }
    reported.update(accounting.with_attempt(accounting.figures(task), reported))
    # What the runner did not report keeps its previous value (a resumed task keeps its PR).
    changes = {**decision.changes, **{k: v for k, v in reported.items() if v is not None}}
    tasks.transition(
        task, decision.to, trigger="runner", message=decision.reason, now=utcnow(), changes=changes
    )
