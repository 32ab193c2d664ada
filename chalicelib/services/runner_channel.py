"""What a runner tells us over `POST /api/internal/tasks/:id/events` (a repo task's attempt) or
`POST /api/internal/workflow-runs/:id/events` (a run's): logs, its start, heartbeats with the
running cost, and its final report.

The token names its attempt; a report from an attempt that is no longer the execution's current
one is refused with 409, so a superseded agent can neither move it nor add to its logs. Nothing
here launches or stops an agent: a report only writes, and the stream wakes the executor (which
stops a run's agent that passed its budget).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from chalicelib.core import accounting
from chalicelib.core.actions import Transition
from chalicelib.core.reconcile import Report, budget_exceeded, outcome, over_budget
from chalicelib.core.requests import Refused, Request, decide_request
from chalicelib.core.schemas import RUNNER_EVENT
from chalicelib.core.states import ExecutionKind
from chalicelib.core.timefmt import iso
from chalicelib.engine.clock import utcnow
from chalicelib.engine.credentials import verified_attempt
from chalicelib.engine.executor import budget
from chalicelib.exceptions import Conflict, Unauthorized
from chalicelib.store import executions, logs
from chalicelib.store.models import ExecutionModel

from .executions import carry_out, with_retries
from .validation import require_valid

SUMMARY_MAX = 4000


def handle(kind: ExecutionKind, execution_id: str, token: str | None, body: Any) -> dict[str, Any]:
    attempt = verified_attempt(execution_id, token or "")
    if attempt is None:
        raise Unauthorized("invalid run token")
    event = require_valid(RUNNER_EVENT, body)
    if event["attempt"] != attempt:
        raise Unauthorized("the run token belongs to another attempt")
    what = event["kind"]
    if what == "logs":
        _current_attempt(executions.get(execution_id, kind), attempt, Request.REPORT)
        now = iso(utcnow())
        lines = [logs.LogLine(line["type"], line["content"], line.get("at") or now) for line in event["lines"]]
        return {"ok": True, "lastSeq": logs.append(execution_id, attempt, lines)}
    if what == "heartbeat" or (what == "started" and kind is ExecutionKind.RUN):
        _progress(executions.get(execution_id, kind), attempt, event)
        return {"ok": True}
    request = Request.STARTED if what == "started" else Request.REPORT
    with_retries(execution_id, kind, lambda row: _move(row, attempt, request, event))
    return {"ok": True}


def _current_attempt(row: ExecutionModel, attempt: int, request: Request) -> None:
    if int(row.attempt or 0) != attempt or isinstance(decide_request(executions.view(row), request), Refused):
        raise Conflict("this attempt is no longer current", state=row.state, attempt=int(row.attempt or 0))


def _progress(row: ExecutionModel, attempt: int, event: Mapping[str, Any]) -> None:
    """A heartbeat (a run's start is its first): not a version bump, so it wakes nothing, unless
    its cost passed the budget, which the executor must see."""
    if isinstance(decide_request(executions.view(row), Request.HEARTBEAT), Refused):
        raise Conflict("this attempt is no longer running", state=row.state, attempt=int(row.attempt or 0))
    changes: dict[str, Any] = {"lastHeartbeatAt": iso(utcnow())}
    if event.get("costUsd") is not None:
        # The spent figures are fixed for the attempt, and the write is conditional on it.
        changes.update(accounting.with_attempt(accounting.figures(row), event))
    if not executions.record_progress(row.id, attempt, changes):
        current = executions.get(row.id)
        raise Conflict("this attempt is no longer running", state=current.state, attempt=int(current.attempt or 0))
    cost, limit = changes.get("costUsd"), budget(row)
    if cost is not None and limit is not None and over_budget(float(cost), limit):
        # The budget is the server's to enforce too: a runner that does not stop is stopped.
        ended = budget_exceeded(float(cost), limit)
        with_retries(row.id, executions.kind_of(row), lambda fresh: _end(fresh, attempt, Request.REPORT, ended))


def _end(row: ExecutionModel, attempt: int, request: Request, target: Transition | None = None) -> ExecutionModel:
    if int(row.attempt or 0) != attempt:
        raise Conflict("this attempt is no longer current", state=row.state, attempt=int(row.attempt or 0))
    return carry_out(row, request, target=target)


def _move(row: ExecutionModel, attempt: int, request: Request, event: Mapping[str, Any]) -> ExecutionModel:
    if request is Request.STARTED:
        return _end(row, attempt, request)
    kind = executions.kind_of(row)
    review = row.taskType == "review"
    totals = accounting.with_attempt(accounting.figures(row), event)
    report = Report(
        success=event["result"] == "success", error=event.get("error"), error_kind=event.get("errorKind"),
        changed=bool(event.get("changed")), pushed=bool(event.get("pushed")), pr_url=event.get("prUrl"),
        review=review, cost_usd=totals.get("costUsd"), budget_usd=budget(row),
    )
    decision = outcome(kind, report)
    summary = event.get("summary")
    reported = {
        "modelUsed": event.get("model"),
        "sessionId": event.get("sessionId"),
        "commitSha": event.get("commitSha"),
        "resultSummary": summary[:SUMMARY_MAX] if summary else None,
        "prUrl": None if review else event.get("prUrl"),
        "prNumber": None if review else event.get("prNumber"),
        **totals,
    }
    # What the runner did not report keeps its previous value (a resumed task keeps its PR).
    changes = {**decision.changes, **{k: v for k, v in reported.items() if v is not None}}
    return _end(row, attempt, Request.REPORT, replace(decision, changes=changes))
