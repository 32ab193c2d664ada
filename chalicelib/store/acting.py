"""Who is acting, for the rows that record it: a task's, a blueprint's or a run's `createdBy` and
every event's `actor`. The API sets it for the request it serves (`api.auth`), a trigger for
its firing; anything else, the engine's own work, is `system`."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

SYSTEM = "system"

_actor: ContextVar[str] = ContextVar("optio_actor", default=SYSTEM)


def actor() -> str:
    return _actor.get()


@contextmanager
def acting_as(principal_id: str) -> Iterator[None]:
    token = _actor.set(principal_id)
    try:
        yield
    finally:
        _actor.reset(token)
