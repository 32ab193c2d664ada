"""The only code that writes the workflow-runs table: runs of standalone tasks. Every change of
state is a compare-and-swap on `version`."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib.core.timefmt import iso
from chalicelib.core.workflow_runs import RunState, can_transition
from chalicelib.exceptions import Conflict, NotFound

from .models import WorkflowRunModel
from .pages import Page, decode_cursor, encode_cursor

QUEUE_PARTITION = "queued"


class LostRace(Exception):
    """The run changed since it was read."""


def get(run_id: str) -> WorkflowRunModel:
    try:
        return WorkflowRunModel.get(run_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound(f"workflow run {run_id} not found") from None


def create(fields: Mapping[str, Any], now: datetime) -> WorkflowRunModel:
    run = WorkflowRunModel(**fields)
    run.state = RunState.QUEUED.value
    run.queuePartition = QUEUE_PARTITION
    run.version = 0
    run.createdAt = run.updatedAt = iso(now)
    run.save(condition=WorkflowRunModel.id.does_not_exist())
    return run


def transition(run: WorkflowRunModel, target: RunState, now: datetime,
               changes: Mapping[str, Any] | None = None) -> WorkflowRunModel:
    """`run` as read -> `target`: 409 for a transition the states do not allow, LostRace when the
    run moved meanwhile. Entering `queued` clears the previous attempt's outcome."""
    current = RunState(run.state)
    if not can_transition(current, target):
        raise Conflict(f"cannot move a {current} run to {target}", state=current.value)
    at = iso(now)
    fields: dict[str, Any] = {"state": target.value, "updatedAt": at, **(changes or {})}
    if target is RunState.QUEUED:
        fields.update(queuePartition=QUEUE_PARTITION, errorMessage=None, output=None, startedAt=None,
                      finishedAt=None)
    else:
        fields["queuePartition"] = None
    if target is RunState.RUNNING:
        fields["startedAt"] = at
    if target in (RunState.COMPLETED, RunState.FAILED):
        fields["finishedAt"] = at
    actions = [
        getattr(WorkflowRunModel, name).remove() if value is None else getattr(WorkflowRunModel, name).set(value)
        for name, value in fields.items()
    ]
    actions.append(WorkflowRunModel.version.add(1))
    try:
        run.update(actions=actions, condition=WorkflowRunModel.version == run.version)
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise LostRace(run.id) from None
        raise
    return run


def of_config(config_id: str, limit: int, cursor: str | None) -> Page[WorkflowRunModel]:
    query = WorkflowRunModel.config_index.query(
        config_id, scan_index_forward=False, limit=limit, last_evaluated_key=decode_cursor(cursor)
    )
    items = list(query)
    last_key = query.last_evaluated_key
    return Page(items=items, next_cursor=encode_cursor(last_key) if last_key else None)
