"""A task's figures are the sum of its attempts' own (core.accounting), table-tested."""
from __future__ import annotations

from typing import Any

import pytest

from chalicelib.core import accounting
from chalicelib.core.failures import FailureKind
from chalicelib.core.reconcile import Report, outcome
from chalicelib.core.states import ExecutionKind, State


@pytest.mark.parametrize(("row", "reported", "totals"), [
    # The first attempt: its report is the total.
    ({}, {"costUsd": 0.2, "inputTokens": 100, "outputTokens": 10},
     {"costUsd": 0.2, "inputTokens": 100, "outputTokens": 10}),
    # A later attempt adds to what the earlier ones spent, however often it reports.
    ({"spentCostUsd": 0.5, "spentInputTokens": 1000, "spentOutputTokens": 50, "costUsd": 0.9},
     {"costUsd": 0.25, "inputTokens": 10, "outputTokens": 1},
     {"costUsd": 0.75, "inputTokens": 1010, "outputTokens": 51}),
    # What the attempt did not report is left alone.
    ({"spentCostUsd": 0.5}, {"costUsd": 0.1, "inputTokens": None}, {"costUsd": 0.6}),
    ({"spentCostUsd": 0.5}, {}, {}),
])
def test_totals_are_the_spent_figures_plus_the_attempts_own(
    row: dict[str, Any], reported: dict[str, Any], totals: dict[str, Any]
) -> None:
    assert accounting.with_attempt(row, reported) == pytest.approx(totals)


def test_an_attempt_starts_with_the_totals_so_far_as_spent() -> None:
    row = {"costUsd": 0.3, "inputTokens": 40, "outputTokens": None}
    assert accounting.attempt_start(row) == {
        "spentCostUsd": 0.3, "spentInputTokens": 40, "spentOutputTokens": None,
    }


@pytest.mark.parametrize(("kind", "retried"), [
    ("agent_error", True), ("rate_limited", True), ("stalled", True), ("git", True),
    ("auth", False), ("budget", False), ("max_turns", False), ("cancelled", False),
])
def test_one_table_says_which_failures_a_retry_can_fix(kind: str, retried: bool) -> None:
    assert FailureKind.parse(kind).retryable is retried


def report(**fields: Any) -> Report:
    base: dict[str, Any] = {"success": False, "changed": False, "pushed": False, "pr_url": None,
                            "error": None, "error_kind": None}
    return Report(**{**base, **fields})


def test_a_turn_limit_needs_attention_not_a_retry() -> None:
    moved = outcome(ExecutionKind.REPO_TASK,
                    report(error="agent stopped at the maximum number of turns (250)", error_kind="max_turns"))
    assert moved.to is State.NEEDS_ATTENTION
    assert moved.changes["errorKind"] == "max_turns"


def test_a_run_at_its_turn_limit_fails_without_a_retry() -> None:
    # A run has no needs_attention: its turn limit fails it, and a retry cannot fix it.
    moved = outcome(ExecutionKind.RUN,
                    report(error="agent stopped at the maximum number of turns (7)", error_kind="max_turns"))
    assert moved.to is State.FAILED
    assert moved.changes["errorKind"] == "max_turns" and moved.changes["retryable"] is False


@pytest.mark.parametrize("kind", list(ExecutionKind))
def test_a_rate_limit_fails_retryably(kind: ExecutionKind) -> None:
    moved = outcome(kind, report(error="overloaded", error_kind="rate_limited"))
    assert moved.to is State.FAILED and moved.changes["retryable"] is True


@pytest.mark.parametrize("kind", list(ExecutionKind))
def test_the_reported_total_is_held_against_the_budget(kind: ExecutionKind) -> None:
    # The report carries the execution's totals once counted (earlier attempts included).
    totals = accounting.with_attempt({"spentCostUsd": 0.9}, {"costUsd": 0.2})
    moved = outcome(kind, report(success=True, changed=True, pushed=True, cost_usd=totals["costUsd"],
                                 budget_usd=1.0))
    assert moved.to is State.FAILED and moved.changes["errorKind"] == "budget"
    assert "$1.1000" in moved.reason and "$1.00" in moved.reason
