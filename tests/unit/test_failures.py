"""Why an attempt failed and whether a retry can fix it (`core.failures`): the table, written out
again on purpose for every kind, and what `fail` makes of it."""
from __future__ import annotations

import pytest

from chalicelib.core.actions import fail
from chalicelib.core.failures import RETRY_POLICY, FailureKind, Retry
from chalicelib.core.states import State

F = FailureKind
NOT = Retry.NOT_RETRIED
# Every kind, with whether a retry can fix it. A new kind fails the completeness test below until
# it is decided here.
EXPECTED: dict[FailureKind, Retry] = {
    F.AGENT_ERROR: Retry.RETRIED,
    F.AUTH: NOT,
    F.RATE_LIMITED: Retry.RETRIED,
    F.SETUP: Retry.RETRIED,
    F.GIT: Retry.RETRIED,
    F.MAX_TURNS: NOT,
    F.BUDGET: NOT,
    F.POD_GONE: Retry.RETRIED,
    F.NO_RESULT: Retry.RETRIED,
    F.CRASH: Retry.RETRIED,
    F.OOM_KILLED: Retry.RETRIED,
    F.EVICTED: Retry.FREE,
    F.IMAGE_PULL: NOT,
    F.CONFIG_ERROR: NOT,
    F.UNSCHEDULABLE: NOT,
    F.DEADLINE_EXCEEDED: Retry.RETRIED,
    F.LAUNCH_FAILED: Retry.RETRIED,
    F.STALLED: Retry.RETRIED,
    F.CANCELLED: NOT,
    F.DEPENDENCY_FAILED: NOT,
    F.REPO_MISSING: NOT,
    F.CONFIG_MISSING: NOT,
    F.PR_CLOSED: NOT,
    F.INTERNAL_ERROR: NOT,
}


def test_every_kind_is_decided() -> None:
    assert set(EXPECTED) == set(F)
    assert set(RETRY_POLICY) <= set(F)


@pytest.mark.parametrize("kind", list(F))
def test_the_retry_table(kind: FailureKind) -> None:
    assert kind.retry is EXPECTED[kind]
    assert kind.retryable is (EXPECTED[kind] is not NOT)


@pytest.mark.parametrize("kind", list(F))
def test_fail_records_the_kind_and_what_the_table_says(kind: FailureKind) -> None:
    moved = fail(kind, "why")
    assert moved.to is State.FAILED and moved.reason == "why" and not moved.stop_agent
    expected: dict[str, object] = {"errorMessage": "why", "errorKind": kind.value, "retryable": kind.retryable}
    if kind.retry is Retry.FREE:
        expected["freeRetry"] = True
    assert moved.changes == expected


def test_fail_takes_more_changes_and_stops_the_agent_when_asked() -> None:
    moved = fail(F.PR_CLOSED, "closed", stop_agent=True, changes={"prActedOn": "closed"})
    assert moved.stop_agent
    assert moved.changes == {"errorMessage": "closed", "errorKind": "pr_closed", "retryable": False,
                             "prActedOn": "closed"}


@pytest.mark.parametrize("text,kind", [
    (None, F.AGENT_ERROR),
    ("", F.AGENT_ERROR),
    ("something_new", F.AGENT_ERROR),
    ("AUTH", F.AGENT_ERROR),  # the wire's names are exact
    ("auth", F.AUTH),
    ("evicted", F.EVICTED),
    ("max_turns", F.MAX_TURNS),
])
def test_parse_a_kind_from_the_wire(text: str | None, kind: FailureKind) -> None:
    assert FailureKind.parse(text) is kind


@pytest.mark.parametrize("kind", list(F))
def test_every_kind_parses_back_from_its_value(kind: FailureKind) -> None:
    assert FailureKind.parse(kind.value) is kind


def test_an_unknown_kind_is_retried_like_the_agents_own_error() -> None:
    assert FailureKind.parse("gremlins").retry is Retry.RETRIED
