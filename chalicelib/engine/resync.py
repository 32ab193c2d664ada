"""The periodic repair: reconcile every execution that may have work (repo tasks and runs alike),
then dispatch."""
from __future__ import annotations

from chalicelib.observability import logger
from chalicelib.store import executions

from .dispatcher import dispatch
from .executor import reconcile


def resync() -> dict[str, int]:
    seen = failed = 0
    for execution_id in executions.active_ids():
        seen += 1
        try:
            reconcile(execution_id)
        except Exception:
            failed += 1
            logger.exception("resync failed for execution", extra={"executionId": execution_id})
    return {"reconciled": seen, "errors": failed, "started": len(dispatch())}
