"""Health of the parts the API depends on."""
from __future__ import annotations

from typing import Any

from chalicelib.launch import get_launcher
from chalicelib.observability import logger
from chalicelib.store.models import ExecutionModel

VERSION = "0.1.0"


def check() -> dict[str, Any]:
    try:
        ExecutionModel.describe_table()
        store = "ok"
    except Exception as error:
        logger.warning("health: store unreachable", extra={"error": str(error)})
        store = "unreachable"
    try:
        launcher = get_launcher().name
    except Exception as error:
        launcher = f"unavailable: {error}"
    return {"healthy": store == "ok", "checks": {"store": store, "launcher": launcher},
            "version": VERSION}
