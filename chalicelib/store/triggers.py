"""The only code that writes the triggers table (and the claims that keep one trigger of each
type per config, and webhook paths unique)."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.update import Action

from chalicelib.core.timefmt import iso
from chalicelib.exceptions import Conflict

from . import claims, rows
from .models import CounterModel, TriggerModel, UniqueKeyModel

DUE_PARTITION = "due"


def type_key(target_id: str, trigger_type: str) -> str:
    return f"trigger#{target_id}#{trigger_type}"


def path_key(path: str) -> str:
    return f"webhook-path#{path}"


def _claims(trigger: TriggerModel) -> list[tuple[str, str]]:
    """(key, what it is for the 409) of every unique key this trigger holds."""
    held = [(type_key(trigger.targetId, trigger.type), f"this task already has a {trigger.type} trigger")]
    if trigger.type == "webhook":
        path = trigger.config["path"]
        held.append((path_key(path), f"the webhook path {path!r} is taken"))
    return held


def _due_fields(enabled: bool, trigger_type: str, next_fire_at: str | None) -> dict[str, Any]:
    due = enabled and trigger_type == "schedule" and next_fire_at is not None
    return {"duePartition": DUE_PARTITION if due else None}


def _ticket_source(trigger_type: str, config: Mapping[str, Any]) -> str | None:
    return str(config["source"]) if trigger_type == "ticket" else None


def get(trigger_id: str) -> TriggerModel:
    return rows.get(TriggerModel, trigger_id, "trigger")


def of_target(target_id: str) -> list[TriggerModel]:
    return list(TriggerModel.target_index.query(target_id))


class Delivery(NamedTuple):
    """A delivery to a webhook path as its claim counted it."""

    trigger_id: str
    target_id: str | None  # the trigger's task config; None on a path claimed before it was kept
    this_minute: int  # the deliveries to the path this minute, this one included


def count_delivery(path: str, minute: str) -> Delivery | None:
    """A delivery to `path` in `minute` (`2026-11-23T10:15`) counted on the path's claim; None when
    no trigger has the path. One round trip, but for a minute's first delivery."""
    claim = UniqueKeyModel(path_key(path))
    for _ in range(3):  # a minute's first deliveries racing: the loser counts on the winner's minute
        try:
            claim.update(actions=[UniqueKeyModel.rateCount.add(1)], condition=UniqueKeyModel.rateMinute == minute)
            return Delivery(claim.ref, claim.targetId, int(claim.rateCount or 0))
        except UpdateError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise
        try:
            # Another minute's count (or none yet): this minute starts; `<>`, not `<`, so that a
            # clock behind another function's resets the count rather than never counting.
            claim.update(actions=[UniqueKeyModel.rateMinute.set(minute), UniqueKeyModel.rateCount.set(1)],
                         condition=UniqueKeyModel.ref.exists()
                         & (UniqueKeyModel.rateMinute.does_not_exist() | (UniqueKeyModel.rateMinute != minute)))
            return Delivery(claim.ref, claim.targetId, 1)
        except UpdateError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise
        try:
            claim.refresh(consistent_read=True)
        except DoesNotExist:
            return None
    return Delivery(claim.ref, claim.targetId, int(claim.rateCount or 0))


def find(trigger_id: str) -> TriggerModel | None:
    return rows.find(TriggerModel, trigger_id)


def create(fields: Mapping[str, Any], now: datetime) -> TriggerModel:
    trigger = TriggerModel(**fields)
    trigger.createdAt = trigger.updatedAt = iso(now)
    trigger.duePartition = _due_fields(trigger.enabled, trigger.type, trigger.nextFireAt)["duePartition"]
    trigger.ticketSource = _ticket_source(trigger.type, trigger.config)
    held = [(key, lambda message=message: Conflict(message)) for key, message in _claims(trigger)]
    claims.save_claimed(trigger, held, "a trigger is being created concurrently; try again",
                        target_ids={key: trigger.targetId for key, _ in held})
    return trigger


def update(trigger: TriggerModel, changes: Mapping[str, Any], now: datetime) -> TriggerModel:
    """`changes` as read from `trigger` (None removes); conditioned on the row as read, so a
    concurrent tick or edit is not overwritten. A webhook's path does not change here."""
    fields = {**changes, "updatedAt": iso(now)}
    enabled = fields.get("enabled", trigger.enabled)
    next_fire_at = fields["nextFireAt"] if "nextFireAt" in fields else trigger.nextFireAt
    fields.update(_due_fields(enabled, trigger.type, next_fire_at))
    if "config" in fields:
        fields["ticketSource"] = _ticket_source(trigger.type, fields["config"])
    actions = [
        getattr(TriggerModel, name).remove() if value is None else getattr(TriggerModel, name).set(value)
        for name, value in fields.items()
    ]
    try:
        trigger.update(actions=actions, condition=TriggerModel.updatedAt == trigger.updatedAt)
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            get(trigger.id)  # NotFound when deleted meanwhile
            raise Conflict(f"trigger {trigger.id} changed meanwhile; try again") from None
        raise
    return trigger


def delete(trigger: TriggerModel) -> None:
    claims.delete_claimed(trigger, [key for key, _ in _claims(trigger)])


def due(now: datetime) -> Iterator[TriggerModel]:
    """Enabled schedule triggers whose fire time has come (the index may lag: the caller's
    conditional write is what decides)."""
    return TriggerModel.due_index.query(DUE_PARTITION, TriggerModel.nextFireAt <= iso(now))


def for_tickets(source: str) -> list[TriggerModel]:
    """Every ticket trigger on `source`, enabled or not (the caller decides)."""
    return list(TriggerModel.ticket_index.query(source))


def advance(trigger: TriggerModel, expected_next: str, next_fire_at: datetime, fired_at: datetime | None) -> bool:
    """Move the fire time on, from the value read. True for exactly one of any number of racing
    callers; the others (and a trigger paused or edited meanwhile) get False."""
    actions: list[Action] = [TriggerModel.nextFireAt.set(iso(next_fire_at))]
    if fired_at is not None:
        actions.append(TriggerModel.lastFiredAt.set(iso(fired_at)))
    try:
        trigger.update(actions=actions,
                       condition=(TriggerModel.nextFireAt == expected_next) & (TriggerModel.enabled == True))  # noqa: E712
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def mark_fired(trigger: TriggerModel, now: datetime) -> None:
    try:
        trigger.update(actions=[TriggerModel.lastFiredAt.set(iso(now))], condition=TriggerModel.id.exists())
    except UpdateError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise


def hit(key: str) -> int:
    """Add one to the counter `key` and return the new count, atomically (a stream record's tries)."""
    counter = CounterModel(key)
    counter.update(actions=[CounterModel.value.add(1)])
    return int(counter.value)
