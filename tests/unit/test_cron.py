"""Schedule triggers: the five-field rule, and when a trigger fires (pure, `now` handed in)."""
from datetime import UTC, datetime, timedelta, timezone

import pytest

from chalicelib.core.cron import Firing, cron_problem, decide, next_fire_time, schedule_rate

T = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("expression", [
    "0 9 * * *", "*/5 * * * *", "0 0 1 1 *", "15 14 1 * 1-5", " 0  9 * *  * ", "0 9 * * MON", "0 9 * JAN *",
])
def test_five_field_expressions_are_valid(expression: str) -> None:
    assert cron_problem(expression) is None


@pytest.mark.parametrize("expression,words", [
    ("0 9 * *", "five fields"),
    ("0 0 9 * * *", "five fields"),
    ("0 0 9 * * * 2026", "five fields"),
    ("@daily", "five fields"),
    ("", "five fields"),
    ("every day", "five fields"),
    ("garbage in the five fields", "not a valid"),
    ("61 * * * *", "not a valid"),
    ("* 24 * * *", "not a valid"),
    ("* * 32 * *", "not a valid"),
    ("* * * 13 *", "not a valid"),
    ("* * * * 8", "not a valid"),
    ("a b c d e", "not a valid"),
])
def test_other_expressions_are_refused(expression: str, words: str) -> None:
    problem = cron_problem(expression)
    assert problem is not None and words in problem


@pytest.mark.parametrize("value", [None, 5, ["0", "9", "*", "*", "*"]])
def test_non_strings_are_refused(value: object) -> None:
    assert cron_problem(value) == "must be a string"


def test_next_fire_time_is_strictly_after_and_utc() -> None:
    assert next_fire_time("0 9 * * *", T) == T + timedelta(days=1)
    assert next_fire_time("0 9 * * *", T - timedelta(seconds=1)) == T
    assert next_fire_time("*/5 * * * *", T + timedelta(seconds=30)) == T + timedelta(minutes=5)
    other_zone = T.astimezone(timezone(timedelta(hours=5)))
    assert next_fire_time("0 9 * * *", other_zone) == T + timedelta(days=1)
    assert next_fire_time("0 9 * * *", T).tzinfo == UTC


def test_a_new_trigger_is_only_scheduled() -> None:
    assert decide("0 9 * * *", None, T - timedelta(hours=1)) == Firing(False, T)


def test_not_yet_due_keeps_its_time() -> None:
    firing = decide("0 9 * * *", T, T - timedelta(seconds=1))
    assert not firing.fire and firing.next_fire_at == T


def test_due_at_its_time_fires_and_moves_on() -> None:
    firing = decide("0 9 * * *", T, T)
    assert firing.fire and firing.next_fire_at == T + timedelta(days=1)
    firing = decide("*/5 * * * *", T, T + timedelta(seconds=30))
    assert firing.fire and firing.next_fire_at == T + timedelta(minutes=5)


def test_after_downtime_it_fires_once_and_skips_the_missed_slots() -> None:
    now = T + timedelta(hours=3, minutes=2)
    firing = decide("*/5 * * * *", T, now)
    assert firing.fire and firing.next_fire_at == T + timedelta(hours=3, minutes=5)
    again = decide("*/5 * * * *", firing.next_fire_at, now)
    assert not again.fire


@pytest.mark.parametrize(("interval_ms", "rate"), [
    (None, "rate(1 minute)"), (60000, "rate(1 minute)"), (3000, "rate(1 minute)"),
    (300000, "rate(5 minutes)"), (150000, "rate(2 minutes)"),
])
def test_the_aws_tick_rate_is_whole_minutes_at_least_one(interval_ms: int | None, rate: str) -> None:
    assert schedule_rate(interval_ms) == rate
