"""The periodic repair: reconcile every execution that may have work (repo tasks and runs alike),
then dispatch, then bring every warm pool to its size; and the timed one: reconcile one execution when its wake-up fires."""
from __future__ import annotations

from chalicelib.observability import logger
from chalicelib.store import executions

from . import timers
from .dispatcher import dispatch
from .executor import reconcile
from .warm_pools import resync_pools


def resync() -> dict[str, int]:
    seen = failed = 0
    for execution_id in executions.active_ids():
        seen += 1
        try:
            reconcile(execution_id, wake_up=False)
        except Exception:
            failed += 1
            logger.exception("resync failed for execution", extra={"executionId": execution_id})
    return {"reconciled": seen, "errors": failed, "started": len(dispatch()), **resync_pools()}


def wake(event: object) -> dict[str, object]:
    """A wake-up fired (`chalicelib.engine.timers`): decide again for its execution."""
    execution_id = timers.parse_wake_up(event)
    taken = reconcile(execution_id)
    return {"executionId": execution_id, "decided": [f"{type(a).__name__}: {a.reason}" for a in taken]}
