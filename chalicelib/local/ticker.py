"""EventBridge's `rate(1 minute)`, locally: call the same scheduled handler every few seconds
with the event shape EventBridge sends."""
from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chalicelib.observability import logger


def scheduled_event(rule: str) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": now,
        "region": "local",
        "resources": [f"arn:aws:events:local:000000000000:rule/{rule}"],
        "detail": {},
    }


class Ticker:
    def __init__(self, name: str, interval_s: float, handler: Callable[[dict[str, Any], Any], Any],
                 context_factory: Callable[[], Any]) -> None:
        self._name = name
        self._interval_s = interval_s
        self._handler = handler
        self._context_factory = context_factory
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"ticker-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self._handler(scheduled_event(self._name), self._context_factory())
            except Exception:
                logger.exception("scheduled handler failed", extra={"rule": self._name})
