"""The unique-keys table: idempotency keys claimed with a conditional put before acting, and the
keys a row holds (a repo's URL, a template's name, a trigger's path) written with it."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.core.timefmt import iso
from chalicelib.exceptions import Conflict

from . import rows
from .connection import connection
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
    row = rows.find(UniqueKeyModel, key)
    return str(row.ref) if row is not None else None


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


def cancellation_codes(error: TransactWriteError) -> list[str | None]:
    """Why each item of a cancelled transaction failed, in the transaction's order."""
    return [reason.code if reason else None for reason in error.cancellation_reasons]


Claim = tuple[str, Callable[[], Exception]]


def save_claimed(row: Any, claims: Sequence[Claim], concurrently: str,
                 target_ids: Mapping[str, str] | None = None) -> None:
    """A new `row` and the unique keys it holds (`(key, the error when it is taken)`), all in one
    transaction: the first key already held raises its error; a transaction that raced another
    raises Conflict(`concurrently`), for the caller to try again. `target_ids`: the `targetId` a
    key's claim names, by key."""
    named = target_ids or {}
    try:
        with TransactWrite(connection=connection()) as txn:
            for key, _ in claims:
                txn.save(UniqueKeyModel(key=key, ref=row.id, createdAt=row.createdAt, targetId=named.get(key)),
                         condition=UniqueKeyModel.key.does_not_exist())
            txn.save(row, condition=type(row).id.does_not_exist())
    except TransactWriteError as error:
        codes = cancellation_codes(error)
        for (_, taken), code in zip(claims, codes, strict=False):
            if code == "ConditionalCheckFailed":
                raise taken() from None
        if "TransactionConflict" in codes:
            raise Conflict(concurrently) from None
        raise


def delete_claimed(row: Any, keys: Sequence[str], condition: Any = None) -> None:
    """`row` and the unique keys it holds (only while it holds them), in one transaction."""
    with TransactWrite(connection=connection()) as txn:
        txn.delete(row, condition=condition)
        for key in keys:
            txn.delete(UniqueKeyModel(key), condition=UniqueKeyModel.ref == row.id)
