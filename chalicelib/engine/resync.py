"""The periodic repair: reconcile every task and workflow run that may have work, then dispatch."""
from __future__ import annotations

from chalicelib.observability import logger
from chalicelib.store import tasks

from .dispatcher import dispatch
from .reconciler import reconcile
from .standalone_runs import resync_runs


def resync() -> dict[str, int]:
    """Tasks and runs are repaired independently: a failure of one part never starves the other."""
    counts: dict[str, int] = {}
    for part in (resync_tasks, resync_runs):
        try:
            counts.update(part())
        except Exception:
            logger.exception("resync part failed", extra={"part": part.__name__})
    return counts


def resync_tasks() -> dict[str, int]:
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
