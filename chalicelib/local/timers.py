"""The timers state machine, locally: each wake-up waits in one thread's queue until its time, then
calls the same `execution_timer` handler with the input Step Functions would pass it."""
from __future__ import annotations

import heapq
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chalicelib.core.timefmt import iso
from chalicelib.observability import logger


class LocalTimers:
    def __init__(self, handler: Callable[[dict[str, Any], Any], Any], context_factory: Callable[[], Any]) -> None:
        self._handler = handler
        self._context_factory = context_factory
        self._due: list[tuple[datetime, str]] = []
        self._set: set[tuple[datetime, str]] = set()  # a wake-up asked for twice fires once
        self._changed = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="timers", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify()
        self._thread.join(timeout=10)

    def wake_at(self, execution_id: str, at: datetime) -> None:
        with self._changed:
            if (at, execution_id) in self._set:
                return
            self._set.add((at, execution_id))
            heapq.heappush(self._due, (at, execution_id))
            self._changed.notify()

    def _next(self) -> tuple[datetime, str] | None:
        with self._changed:
            while not self._stopped:
                if self._due:
                    wait_s = (self._due[0][0] - datetime.now(UTC)).total_seconds()
                    if wait_s <= 0:
                        due = heapq.heappop(self._due)
                        self._set.discard(due)
                        return due
                    self._changed.wait(wait_s)
                else:
                    self._changed.wait()
            return None

    def _run(self) -> None:
        while (due := self._next()) is not None:
            at, execution_id = due
            try:
                self._handler({"executionId": execution_id, "dueAt": iso(at)}, self._context_factory())
            except Exception:
                logger.exception("wake-up failed", extra={"executionId": execution_id})
