"""The periodic repair: reconcile every task that may have work, then dispatch."""
from __future__ import annotations

from chalicelib.observability import logger
from chalicelib.store import tasks

from .dispatcher import dispatch
from .reconciler import reconcile


def resync() -> dict[str, int]:
    seen = failed = 0
    for task_id in tasks.active_ids():
        seen += 1
        try:
            reconcile(task_id)
        except Exception:
            failed += 1
            logger.exception("resync failed for task", extra={"taskId": task_id})
    started = len(dispatch())
    return {"reconciled": seen, "errors": failed, "started": started}
