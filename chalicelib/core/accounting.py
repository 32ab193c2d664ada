"""What a task or a run has cost: the sum over its attempts of what each attempt's own API calls
cost. The runner reports an attempt's figures only (a CLI that reports a resumed session's running
total is corrected in its adapter); the row keeps what the earlier attempts spent, fixed when an
attempt starts, so the totals are that plus the current attempt's report, however often it is
reported (heartbeats repeat the running cost; a replayed result must not add twice)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Row field holding a total -> the field holding what earlier attempts spent of it.
SPENT = {"costUsd": "spentCostUsd", "inputTokens": "spentInputTokens", "outputTokens": "spentOutputTokens"}
# Every field the accounting reads from a row.
FIELDS = (*SPENT, *SPENT.values())


def figures(row: object) -> dict[str, Any]:
    """A stored row's cost and token fields, by name."""
    return {name: getattr(row, name, None) for name in FIELDS}


def attempt_start(row: Mapping[str, Any]) -> dict[str, Any]:
    """The changes that start a new attempt's accounting: the totals so far become what was spent."""
    return {spent: row.get(total) for total, spent in SPENT.items()}


def with_attempt(row: Mapping[str, Any], reported: Mapping[str, Any]) -> dict[str, Any]:
    """The totals once the current attempt has reported `reported` (fields it did not report are
    left out, so they keep their value)."""
    totals: dict[str, Any] = {}
    for total, spent in SPENT.items():
        value = reported.get(total)
        if value is None:
            continue
        before = row.get(spent)
        totals[total] = value if before is None else before + value
    return totals

