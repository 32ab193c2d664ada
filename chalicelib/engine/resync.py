"""The periodic repair: reconcile every execution that may have work (repo tasks and runs alike),
then dispatch, then bring every warm pool to its size; and the timed one: reconcile one execution when its wake-up fires."""
from __future__ import annotations

from chalicelib import observability
from chalicelib.observability import logger
from chalicelib.store import executions

from . import launching, timers
from .dispatcher import dispatch
from .executor import launch_failed, reconcile
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
    started = len(dispatch())
    observability.gauges(*executions.load())
    return {"reconciled": seen, "errors": failed, "started": started, **resync_pools()}


def wake(event: object) -> dict[str, object]:
    """A wake-up fired (`chalicelib.engine.timers`), or Lambda gave up on a launch (the launcher's
    on-failure destination record, `launching.failed_launch`): decide again for its execution."""
    failed = launching.failed_launch(event)
    if failed is not None:
        logger.warning("launch.dropped", extra={"executionId": failed.execution_id, "attempt": failed.attempt,
                                                "why": failed.why})
        taken = launch_failed(failed.execution_id, failed.attempt, failed.why)
        return {"executionId": failed.execution_id, "decided": [f"{type(a).__name__}: {a.reason}" for a in taken]}
    execution_id = timers.parse_wake_up(event)
    taken = reconcile(execution_id)
    return {"executionId": execution_id, "decided": [f"{type(a).__name__}: {a.reason}" for a in taken]}
