"""Polling with a deadline: the only way tests wait for state."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], timeout_s: float = 60.0, interval_s: float = 0.05,
             what: str = "condition") -> T:
    """`probe()` until it is truthy. The default deadline is for a loaded machine (`make test`'s
    workers on two cores): it only costs time when the test fails anyway."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what} (last: {last!r})")
