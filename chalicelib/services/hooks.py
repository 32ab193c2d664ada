"""`POST /api/hooks/:path`: a webhook trigger's delivery becomes a run of its blueprint; and its
dry run, which shows what a sample delivery would make without making it."""
from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from chalicelib.core.hooks import map_params, mapping_problems, signature_ok
from chalicelib.core.schemas import HOOK_TEST
from chalicelib.core.timefmt import iso
from chalicelib.engine.clock import utcnow
from chalicelib.exceptions import FieldProblem, NotFound, RateLimited, Unauthorized, ValidationFailed
from chalicelib.store import configs, triggers
from chalicelib.store.models import ExecutionModel, TaskConfigModel, TriggerModel

from .configs import rendered, run_config
from .validation import not_an_object, parse_body, require_valid

RATE_PER_MINUTE = 60
# Reads a delivery's config while its request's thread reads the trigger.
_READER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="hook-read")


def receive(path: str, raw_body: bytes, signature: str | None, now: datetime | None = None) -> ExecutionModel:
    """Unknown or paused (trigger or blueprint) -> 404; over 60 deliveries to the path in this
    minute -> 429; a bad signature when the trigger has a secret -> 401; else a run whose params
    are the mapped values (or the whole body)."""
    moment = now or utcnow()
    # The count, the trigger's id and its config's in one write to the path's claim: a round trip fewer.
    counted = triggers.count_delivery(path, iso(moment)[:16])  # the minute: 2026-11-23T10:15
    if counted is None:
        raise NotFound(f"no webhook at {path}")
    trigger, config = _trigger_and_config(counted)
    if trigger is None or trigger.type != "webhook" or not trigger.enabled or config is None or not config.enabled:
        raise NotFound(f"no webhook at {path}")
    if counted.this_minute > RATE_PER_MINUTE:
        raise RateLimited(f"more than {RATE_PER_MINUTE} requests this minute to {path}",
                          retry_after_s=max(1, 60 - moment.second))
    secret = trigger.config.get("secret")
    if secret and not signature_ok(secret, raw_body, signature):
        raise Unauthorized("missing or wrong X-Optio-Signature")
    params = delivered_params(trigger.config.get("paramMapping"), raw_body)
    run = run_config(config, params, {"type": "webhook", "triggerId": trigger.id})
    triggers.mark_fired(trigger, moment)
    return run


def delivered_params(mapping: Mapping[str, str] | None, raw_body: bytes | str) -> dict[str, Any]:
    """The params a delivery's body gives (an empty body: none), or the 400 naming what is wrong
    with the body (`body`, or the path inside it)."""
    body = parse_body(raw_body) if raw_body else {}
    if not isinstance(body, dict):
        raise not_an_object(body)
    return map_params(mapping, body)


def dry_run(config: TaskConfigModel, request: Any) -> dict[str, Any]:
    """What a delivery of `payload` to a webhook of `config` with `config.paramMapping` would make,
    by the steps `receive` takes, with nothing written: the mapped params, and the run's title and
    prompt, or the problems that would refuse the delivery (its params against the schema). A
    mapping or payload that is not one is the 400 naming it (`config.paramMapping.<name>`,
    `payload`, `payload.<path>`)."""
    given = require_valid(HOOK_TEST, request)
    mapping: dict[str, str] = (given.get("config") or {}).get("paramMapping") or {}
    problems = mapping_problems(mapping)
    if problems:
        raise ValidationFailed(f"invalid request: {', '.join(p.field for p in problems)}", problems)
    try:
        params = delivered_params(mapping, given["payload"])
    except ValidationFailed as bad:
        raise ValidationFailed(bad.message, [
            FieldProblem("payload" if p.field == "body" else f"payload.{p.field}", p.problem) for p in bad.details
        ]) from None
    try:
        _, title, prompt = rendered(config, params)
    except ValidationFailed as refused:
        return {"params": params, "title": None, "prompt": None,
                "problems": [{"field": p.field, "problem": p.problem} for p in refused.details]}
    return {"params": params, "title": title, "prompt": prompt, "problems": []}


def _trigger_and_config(counted: triggers.Delivery) -> tuple[TriggerModel | None, TaskConfigModel | None]:
    """The trigger and its config read at once (the config on another thread) when the path's
    claim names the config; one after the other for a path claimed before claims named it."""
    if counted.target_id is None:
        trigger = triggers.find(counted.trigger_id)
        return trigger, configs.find(trigger.targetId) if trigger is not None else None
    config = _READER.submit(configs.find, counted.target_id)
    return triggers.find(counted.trigger_id), config.result()
