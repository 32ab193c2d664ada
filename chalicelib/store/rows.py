"""Reading one row by its key, the same way for every table: consistently, as None or as a 404
naming what was not found."""
from __future__ import annotations

from typing import TypeVar

from pynamodb.exceptions import DoesNotExist
from pynamodb.models import Model

from chalicelib.exceptions import NotFound

M = TypeVar("M", bound=Model)


def find(model: type[M], key: str) -> M | None:
    try:
        return model.get(key, consistent_read=True)
    except DoesNotExist:
        return None


def get(model: type[M], key: str, noun: str) -> M:
    row = find(model, key)
    if row is None:
        raise NotFound(f"{noun} {key} not found")
    return row
