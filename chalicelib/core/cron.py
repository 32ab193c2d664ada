"""Schedule triggers: five-field UTC cron expressions, and the pure decision of whether a trigger
is due and when it fires next. The caller hands in `now`; nothing here reads the clock."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

FIELDS = ("minute", "hour", "day of month", "month", "day of week")


def cron_problem(expression: object) -> str | None:
    """Why `expression` is not a five-field cron expression, or None when it is one. The fields
    are counted here: croniter would read a sixth as seconds, and `@daily` as an alias."""
    if not isinstance(expression, str):
        return "must be a string"
    parts = expression.split()
    if len(parts) != len(FIELDS):
        return f"must have exactly five fields ({', '.join(FIELDS)}); it has {len(parts)}"
    from croniter import croniter  # at first use, off the cold start of the API

    if not croniter.is_valid(" ".join(parts)):
        return "is not a valid cron expression"
    try:
        croniter(" ".join(parts), datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except (ValueError, KeyError, TypeError, OverflowError):
        return "is not a valid cron expression"
    return None


def next_fire_time(expression: str, after: datetime) -> datetime:
    """The first time strictly after `after` the (valid) expression names, in UTC."""
    from croniter import croniter  # at first use, off the cold start of the API

    start = after.astimezone(UTC)
    moment = croniter(" ".join(expression.split()), start).get_next(datetime)
    assert isinstance(moment, datetime)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Firing:
    fire: bool
    next_fire_at: datetime


def decide(expression: str, next_fire_at: datetime | None, now: datetime) -> Firing:
    """Due when the stored fire time has come. Either way the next fire time is the first cron
    time after `now`, so a trigger that missed several slots (downtime) fires once, not once per
    slot. A trigger not yet scheduled only gets its fire time."""
    if next_fire_at is None:
        return Firing(False, next_fire_time(expression, now))
    if next_fire_at <= now:
        return Firing(True, next_fire_time(expression, now))
    return Firing(False, next_fire_at)


def schedule_rate(interval_ms: int | None) -> str:
    """The EventBridge rate for checking schedule triggers every `interval_ms` (default a minute):
    whole minutes, at least one, since EventBridge rules fire no more often than that."""
    minutes = max(1, round((interval_ms or 60000) / 60000))
    return "rate(1 minute)" if minutes == 1 else f"rate({minutes} minutes)"
