"""Opaque list cursors: the store's LastEvaluatedKey, base64-encoded JSON."""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from chalicelib.core.validation import FieldProblem
from chalicelib.exceptions import ValidationFailed

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def _is_key_value(value: object) -> bool:
    return (
        isinstance(value, dict)
        and len(value) == 1
        and next(iter(value)) in ("S", "N")
        and isinstance(next(iter(value.values())), str)
    )


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        key = None
    if not isinstance(key, dict) or not all(_is_key_value(v) for v in key.values()):
        raise ValidationFailed(
            "invalid cursor", [FieldProblem("cursor", "is not a cursor this API returned")]
        )
    return key
