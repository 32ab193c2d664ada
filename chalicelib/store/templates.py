"""The only code that writes the templates table (and the claims on template names)."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.core.timefmt import iso
from chalicelib.exceptions import Conflict, NotFound

from .connection import connection
from .models import TemplateModel, UniqueKeyModel
from .pages import Page, decode_cursor, encode_cursor


def _name_key(name: str) -> str:
    return f"template-name#{name}"


def _codes(error: TransactWriteError) -> list[str | None]:
    return [reason.code if reason else None for reason in error.cancellation_reasons]


def _duplicate(name: str) -> Conflict:
    try:
        existing: str | None = UniqueKeyModel.get(_name_key(name), consistent_read=True).ref
    except DoesNotExist:  # released since: the caller may simply try again
        existing = None
    return Conflict(f"a template named {name!r} already exists", existingId=existing)


def _lost_race(template_id: str) -> Conflict:
    get(template_id)  # NotFound when it was deleted meanwhile
    return Conflict(f"template {template_id} changed meanwhile; try again")


def get(template_id: str) -> TemplateModel:
    try:
        return TemplateModel.get(template_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound(f"template {template_id} not found") from None


def create(fields: Mapping[str, Any], now: datetime) -> TemplateModel:
    """The name is claimed in the same transaction, so two racing creations make one template."""
    template = TemplateModel(**fields)
    template.createdAt = template.updatedAt = iso(now)
    claim = UniqueKeyModel(key=_name_key(template.name), ref=template.id, createdAt=template.createdAt)
    try:
        with TransactWrite(connection=connection()) as txn:
            txn.save(claim, condition=UniqueKeyModel.key.does_not_exist())
            txn.save(template, condition=TemplateModel.id.does_not_exist())
    except TransactWriteError as error:
        codes = _codes(error)
        if codes[:1] == ["ConditionalCheckFailed"]:
            raise _duplicate(template.name) from None
        if "TransactionConflict" in codes:
            raise Conflict(f"the name {template.name!r} is being claimed concurrently; try again") from None
        raise
    return template


def update(template: TemplateModel, changes: Mapping[str, Any], now: datetime) -> TemplateModel:
    """`changes` as read from `template`; a None removes the field. A rename moves the name's
    claim in the same transaction. Every write is conditioned on the name as read, which
    catches a concurrent rename or delete."""
    fields = {**changes, "updatedAt": iso(now)}
    name = fields.get("name", template.name)
    renamed = name != template.name
    actions = [
        getattr(TemplateModel, key).remove() if value is None else getattr(TemplateModel, key).set(value)
        for key, value in fields.items()
    ]
    # Transaction order: deletes, puts, updates (old claim, new claim, template).
    try:
        with TransactWrite(connection=connection()) as txn:
            if renamed:
                txn.delete(UniqueKeyModel(_name_key(template.name)),
                           condition=UniqueKeyModel.ref == template.id)
                txn.save(UniqueKeyModel(key=_name_key(name), ref=template.id, createdAt=fields["updatedAt"]),
                         condition=UniqueKeyModel.key.does_not_exist())
            txn.update(template, actions=actions, condition=TemplateModel.name == template.name)
    except TransactWriteError as error:
        codes = _codes(error)
        if renamed and codes[1:2] == ["ConditionalCheckFailed"]:
            raise _duplicate(name) from None
        if "ConditionalCheckFailed" in codes or "TransactionConflict" in codes:
            raise _lost_race(template.id) from None
        raise
    for key, value in fields.items():
        setattr(template, key, value)
    return template


def delete(template: TemplateModel) -> None:
    try:
        with TransactWrite(connection=connection()) as txn:
            txn.delete(template, condition=TemplateModel.name == template.name)
            txn.delete(UniqueKeyModel(_name_key(template.name)), condition=UniqueKeyModel.ref == template.id)
    except TransactWriteError as error:
        codes = _codes(error)
        if "ConditionalCheckFailed" in codes or "TransactionConflict" in codes:
            raise _lost_race(template.id) from None
        raise


def list_templates(limit: int, cursor: str | None) -> Page[TemplateModel]:
    # Templates are few and listed by people, not on a hot path: a paged scan is enough.
    scan = TemplateModel.scan(limit=limit, last_evaluated_key=decode_cursor(cursor))
    items = list(scan)
    last_key = scan.last_evaluated_key
    return Page(items=items, next_cursor=encode_cursor(last_key) if last_key else None)
