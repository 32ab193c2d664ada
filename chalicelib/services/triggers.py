"""Triggers of a task config: schedules fired by the tick, webhooks fired by `/api/hooks/:path`,
ticket triggers fired by the ticket sync for a new ticket they handle (instead of the provider's
plain task: one run per ticket)."""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chalicelib.core.cron import cron_problem, decide, next_fire_time
from chalicelib.core.hooks import mapping_problems
from chalicelib.core.params import constant_params_problems
from chalicelib.core.schemas import TRIGGER_CONFIGS, TRIGGER_CREATE, TRIGGER_PATCH
from chalicelib.core.tickets import Ticket, TicketTrigger, handling_trigger, trigger_params
from chalicelib.core.timefmt import iso, parse_iso
from chalicelib.core.validation import validate
from chalicelib.engine.clock import utcnow
from chalicelib.exceptions import FieldProblem, NotFound, OptioError, ValidationFailed
from chalicelib.observability import logger
from chalicelib.store import configs, triggers
from chalicelib.store.models import ExecutionModel, TaskConfigModel, TriggerModel

from .configs import params_schema, run_config
from .validation import require_valid


def _invalid(problems: list[FieldProblem]) -> ValidationFailed:
    return ValidationFailed(f"invalid trigger: {', '.join(p.field for p in problems)}", problems)


def checked_config(target: TaskConfigModel, trigger_type: str, config: Any) -> dict[str, Any]:
    """The trigger's `config`, or the 400 naming what is wrong with it; nothing is stored then."""
    problems = [FieldProblem("config" if p.field == "body" else f"config.{p.field}", p.problem)
                for p in validate(TRIGGER_CONFIGS[trigger_type], config)]
    if problems:
        raise _invalid(problems)
    if trigger_type == "schedule":
        problem = cron_problem(config["cronExpression"])
        if problem:
            raise _invalid([FieldProblem("config.cronExpression", problem)])
        problems = constant_params_problems(params_schema(target), config.get("paramMapping") or {})
        if problems:
            raise _invalid(problems)
    if trigger_type == "webhook":
        problems = mapping_problems(config.get("paramMapping") or {})
        if problems:
            raise _invalid(problems)
    return dict(config)


def _first_fire(trigger_type: str, config: Mapping[str, Any], now: datetime) -> str | None:
    return iso(next_fire_time(config["cronExpression"], now)) if trigger_type == "schedule" else None


def create_trigger(target: TaskConfigModel, body: Any) -> TriggerModel:
    given = require_valid(TRIGGER_CREATE, body)
    config = checked_config(target, given["type"], given["config"])
    now = utcnow()
    return triggers.create({
        "id": str(uuid.uuid4()), "targetId": target.id, "type": given["type"], "config": config,
        "enabled": given.get("enabled", True), "nextFireAt": _first_fire(given["type"], config, now),
    }, now)


def trigger_of(target: TaskConfigModel, trigger_id: str) -> TriggerModel:
    trigger = triggers.get(trigger_id)
    if trigger.targetId != target.id:
        raise NotFound(f"trigger {trigger_id} not found")
    return trigger


def update_trigger(target: TaskConfigModel, trigger_id: str, body: Any) -> TriggerModel:
    """A new schedule, or a trigger enabled again, fires next at the first cron time from now:
    slots missed while paused are not made up."""
    given = require_valid(TRIGGER_PATCH, body)
    trigger = trigger_of(target, trigger_id)
    changes: dict[str, Any] = {}
    if "config" in given:
        config = checked_config(target, trigger.type, given["config"])
        if trigger.type == "webhook" and config["path"] != trigger.config["path"]:
            raise _invalid([FieldProblem("config.path", "cannot change; delete the trigger and create another")])
        changes["config"] = config
    if "enabled" in given:
        changes["enabled"] = given["enabled"]
    if trigger.type == "schedule" and ("config" in changes or (given.get("enabled") and not trigger.enabled)):
        changes["nextFireAt"] = _first_fire("schedule", changes.get("config", trigger.config), utcnow())
    return triggers.update(trigger, changes, utcnow())


def delete_trigger(target: TaskConfigModel, trigger_id: str) -> None:
    triggers.delete(trigger_of(target, trigger_id))


def delete_all(target_id: str) -> None:
    for trigger in triggers.of_target(target_id):
        triggers.delete(trigger)


def _fire(config: TaskConfigModel, trigger: TriggerModel, params: Mapping[str, Any],
          origin: Mapping[str, Any]) -> str | None:
    """One firing: the run's id, or None when the run was refused (logged; the trigger stays)."""
    try:
        run = run_config(config, dict(params), {"type": trigger.type, "triggerId": trigger.id, **origin})
    except OptioError as error:
        logger.warning("trigger.fire_failed", extra={"triggerId": trigger.id, "error": error.message})
        return None
    logger.info("trigger.fired", extra={"triggerId": trigger.id, "runId": run.id, **origin})
    return str(run.id)


def tick(now: datetime | None = None) -> dict[str, int]:
    """Fire every due schedule trigger once. The fire time is moved on with a write conditioned
    on the value read, so of any number of overlapping ticks exactly one fires a given due time;
    the next fire time is the first cron time after `now`, so downtime gives one firing."""
    moment = now or utcnow()
    seen = fired = 0
    for trigger in triggers.due(moment):
        expected = trigger.nextFireAt
        if trigger.type != "schedule" or expected is None:
            continue
        seen += 1
        try:
            fired += _tick_one(trigger, expected, moment)
        except Exception:
            # One trigger that cannot be handled (a cron an older version stored) must not keep
            # the schedules due after it from firing, tick after tick.
            logger.exception("schedule trigger skipped", extra={"triggerId": trigger.id})
    return {"due": seen, "fired": fired}


def _tick_one(trigger: TriggerModel, expected: str, moment: datetime) -> int:
    """1 when the due trigger fired a run."""
    firing = decide(trigger.config["cronExpression"], parse_iso(expected), moment)
    if not firing.fire:
        return 0
    config = configs.find(trigger.targetId)
    fire = config is not None and bool(config.enabled) and bool(trigger.enabled)
    if not triggers.advance(trigger, expected, firing.next_fire_at, moment if fire else None):
        return 0  # another tick took this due time, or the trigger changed meanwhile
    if not fire or config is None:
        return 0  # paused: the time moves on, nothing runs
    return int(_fire(config, trigger, trigger.config.get("paramMapping") or {}, {"dueAt": expected}) is not None)


def ticket_trigger_for(ticket: Ticket) -> tuple[TaskConfigModel, TriggerModel] | None:
    """The ticket trigger (and its config) that handles a new ticket, or None when the provider's
    plain task does (`core.tickets.handling_trigger`)."""
    usable: dict[str, tuple[TaskConfigModel, TriggerModel]] = {}
    for trigger in triggers.for_tickets(ticket.source):
        if not trigger.enabled:
            continue
        config = configs.find(trigger.targetId)
        if config is not None and config.enabled:
            usable[trigger.id] = (config, trigger)
    chosen = handling_trigger([TicketTrigger(t.id, t.createdAt, t.config) for _, t in usable.values()], ticket)
    return usable[chosen.id] if chosen is not None else None


def fire_ticket_trigger(config: TaskConfigModel, trigger: TriggerModel, ticket: Ticket,
                        run_id: str, provider_id: str) -> ExecutionModel | None:
    """The run of the trigger that handles `ticket`, with the id the caller claimed the ticket
    for; None when the run was refused (logged), and the caller handles the ticket otherwise.
    The provider and ticket are kept with the trigger in the run's metadata, for the write-back."""
    origin = {"ticket": ticket.identifier or ticket.key, "ticketProviderId": provider_id, "ticketId": ticket.key}
    try:
        run = run_config(config, trigger_params(ticket), {"type": trigger.type, "triggerId": trigger.id, **origin},
                         run_id=run_id)
    except OptioError as error:
        logger.warning("trigger.fire_failed", extra={"triggerId": trigger.id, "error": error.message})
        return None
    logger.info("trigger.fired", extra={"triggerId": trigger.id, "runId": run.id, **origin})
    triggers.mark_fired(trigger, utcnow())
    return run
