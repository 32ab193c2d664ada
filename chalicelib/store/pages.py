"""Opaque list cursors: the store's LastEvaluatedKey, base64-encoded JSON, signed. DynamoDB
refuses a start key that is not its index's with an error of its own, so only a cursor this API
returned is handed to it: anything else is a 400 here."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from chalicelib.core.validation import FieldProblem
from chalicelib.exceptions import ValidationFailed
from chalicelib.settings import settings

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def _signature(payload: str, secret: str) -> str:
    # The runner-token key, in a domain of its own: a cursor is never a valid run token.
    key = b"optio-cursor:" + secret.encode()
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()[:32]


def _secrets() -> tuple[str, ...]:
    """The run-token keys, newest first (the newest signs, any verifies); a server without one
    signs with the empty key, as it always has."""
    return settings.run_token_secret.values() or ("",)


def encode_cursor(key: dict[str, Any]) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()
    return f"{payload}.{_signature(payload, _secrets()[0])}"


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
    payload, _, signature = cursor.rpartition(".")
    key = None
    if payload and any(hmac.compare_digest(signature.encode(), _signature(payload, secret).encode())
                       for secret in _secrets()):
        try:
            key = json.loads(base64.urlsafe_b64decode(payload.encode()))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            key = None
    if not isinstance(key, dict) or not all(_is_key_value(v) for v in key.values()):
        raise ValidationFailed(
            "invalid cursor", [FieldProblem("cursor", "is not a cursor this API returned")]
        )
    return key


def page_of(query: Any) -> Page[Any]:
    """The items of one query page, with the cursor of the next one (None after the last)."""
    items = list(query)
    last_key = getattr(query, "last_evaluated_key", None)
    return Page(items=items, next_cursor=encode_cursor(last_key) if last_key else None)
