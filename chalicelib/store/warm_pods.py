"""The warm-pods table: the warm runners of every pool (`core.warm_pools`), and the one write that
hands an attempt to one of them."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import DeleteError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.core.timefmt import iso
from chalicelib.core.warm_pools import WarmState

from . import executions, rows
from .connection import connection
from .models import ExecutionModel, WarmPodModel

IDLE, ASSIGNED = WarmState.IDLE.value, WarmState.ASSIGNED.value


class PodTaken(Exception):
    """The warm runner is no longer idle: another attempt was handed to it, or it was stopped."""


def register(pool: str, pod_id: str, now: datetime) -> WarmPodModel:
    """An idle runner of `pool`, written before its pod or process is started."""
    pod = WarmPodModel(id=pod_id, pool=pool, state=IDLE, createdAt=iso(now))
    pod.save(condition=WarmPodModel.id.does_not_exist())
    return pod


def find(pod_id: str) -> WarmPodModel | None:
    return rows.find(WarmPodModel, pod_id)


def of_pool(pool: str) -> list[WarmPodModel]:
    return list(WarmPodModel.pool_index.query(pool))


def pools() -> set[str]:
    """Every pool with a runner: the table holds at most the pools' sizes' worth of rows, and the
    runners of attempts not yet forgotten."""
    return {str(pod.pool) for pod in WarmPodModel.scan(attributes_to_get=["id", "pool"])}


def assign(row: ExecutionModel, pod: WarmPodModel, launch: dict[str, Any], now: datetime) -> ExecutionModel:
    """Hands `row`'s current attempt to `pod`, with `launch` (its runner's input, secrets sealed)
    for the runner to claim: one transaction in which the execution must not have moved (so an
    attempt is launched once) and the runner must still be idle (so it takes one attempt).
    LostRace when the execution moved, PodTaken when the runner did."""
    when = iso(now)
    try:
        with TransactWrite(connection=connection()) as txn:
            fields = executions.update_in(txn, row, {"launchedAt": when, "warmPod": pod.id}, now)
            txn.update(pod, actions=[WarmPodModel.state.set(ASSIGNED), WarmPodModel.executionId.set(row.id),
                                     WarmPodModel.attempt.set(int(row.attempt or 0)),
                                     WarmPodModel.launch.set(launch), WarmPodModel.assignedAt.set(when)],
                       condition=WarmPodModel.state == IDLE)
    except TransactWriteError as error:
        codes = [reason.code if reason else None for reason in error.cancellation_reasons]
        if len(codes) > 1 and codes[0] != "ConditionalCheckFailed" and codes[1] == "ConditionalCheckFailed":
            raise PodTaken(pod.id) from None
        executions.raise_for_cancellation(error, row)
    return executions.apply_fields(row, fields)


def take_launch(pod: WarmPodModel) -> dict[str, Any] | None:
    """The runner's claim, on its row as just read: its assigned attempt's launch, removed from the
    row as it is taken, so it is given out once. None while it is idle (or when it was taken already)."""
    if pod.state != ASSIGNED or pod.launch is None:
        return None
    launch = dict(pod.launch)
    try:
        pod.update(actions=[WarmPodModel.launch.remove()],
                   condition=(WarmPodModel.state == ASSIGNED) & WarmPodModel.launch.exists())
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return launch


def remove_idle(pod_id: str) -> bool:
    """Deletes an idle runner's row; False when an attempt was handed to it meanwhile (or it is
    gone already)."""
    try:
        WarmPodModel(pod_id).delete(condition=WarmPodModel.state == IDLE)
    except DeleteError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def forget(pod_id: str) -> None:
    WarmPodModel(pod_id).delete()

