"""The only code that writes the templates table (and the claims on template names)."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.core.timefmt import iso
from chalicelib.exceptions import Conflict

from . import claims, rows
from .connection import connection
from .models import TemplateModel, UniqueKeyModel
from .pages import Page, decode_cursor, page_of


def _name_key(name: str) -> str:
    return f"template-name#{name}"


def _duplicate(name: str) -> Conflict:
    # None when released since: the caller may simply try again.
    return Conflict(f"a template named {name!r} already exists", existingId=claims.holder(_name_key(name)))


def _lost_race(template_id: str) -> Conflict:
    get(template_id)  # NotFound when it was deleted meanwhile
    return Conflict(f"template {template_id} changed meanwhile; try again")


def get(template_id: str) -> TemplateModel:
    return rows.get(TemplateModel, template_id, "template")


def create(fields: Mapping[str, Any], now: datetime) -> TemplateModel:
    """The name is claimed in the same transaction, so two racing creations make one template."""
    template = TemplateModel(**fields)
    template.createdAt = template.updatedAt = iso(now)
    claims.save_claimed(template, [(_name_key(template.name), lambda: _duplicate(template.name))],
                        f"the name {template.name!r} is being claimed concurrently; try again")
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
        codes = claims.cancellation_codes(error)
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
        codes = claims.cancellation_codes(error)
        if "ConditionalCheckFailed" in codes or "TransactionConflict" in codes:
            raise _lost_race(template.id) from None
        raise


def list_templates(limit: int, cursor: str | None) -> Page[TemplateModel]:
    # Templates are few and listed by people, not on a hot path: a paged scan is enough.
    return page_of(TemplateModel.scan(limit=limit, last_evaluated_key=decode_cursor(cursor)))
