"""The one place the engine reads the clock; `core` is always handed `now`."""
from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
