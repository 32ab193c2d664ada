"""Idempotency keys in the unique-keys table: claimed with a conditional put before acting."""
from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib.core.timefmt import iso

from .models import UniqueKeyModel


def claim(key: str, ref: str, now: datetime) -> str | None:
    """Claims `key` for `ref`; None when claimed now, else the ref that holds it already."""
    try:
        UniqueKeyModel(key=key, ref=ref, createdAt=iso(now)).save(condition=UniqueKeyModel.key.does_not_exist())
        return None
    except PutError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
    held = holder(key)
    return held if held is not None else ref


def holder(key: str) -> str | None:
    try:
        return str(UniqueKeyModel.get(key, consistent_read=True).ref)
    except DoesNotExist:
        return None


def holders(keys: list[str]) -> dict[str, str]:
    if not keys:
        return {}
    return {str(row.key): str(row.ref) for row in UniqueKeyModel.batch_get(keys, consistent_read=True)}


def release(key: str, ref: str) -> None:
    """Gives the key back, only if `ref` still holds it."""
    try:
        UniqueKeyModel(key).delete(condition=UniqueKeyModel.ref == ref)
    except Exception:  # noqa: BLE001 - already gone or taken over: nothing to give back
        return
