"""How a finished agent run is judged, the same way for every CLI: an authentication failure
first (whatever the exit code), then an error the agent reported, then the exit code, then
whether it got as far as a result."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from optio_runner.agents.base import AgentResult, Collected, describe_exit
from optio_runner.agents.parsing import matching
from optio_runner.loglines import truncate

MAX_ERROR = 4000


def auth_failure(collected: Collected, markers: Iterable[str]) -> str | None:
    marks = tuple(markers)
    return collected.auth_failure or next((line for line in collected.stderr_tail if matching(line, marks)), None)


def auth_result(failure: str, key_hint: str, common: dict[str, Any]) -> AgentResult:
    return AgentResult(
        success=False,
        error=f"the agent could not authenticate ({truncate(failure.strip(), 200)}); check {key_hint}",
        error_kind="auth",
        **common,
    )


def verdict(
    exit_code: int,
    collected: Collected,
    common: dict[str, Any],
    *,
    auth_markers: Iterable[str],
    key_hint: str,
    reported_error: str | None = None,
    finished: bool = True,
    unfinished: str = "agent exited without reporting a result",
) -> AgentResult:
    failure = auth_failure(collected, auth_markers)
    if failure is not None:
        return auth_result(failure, key_hint, common)
    if reported_error is not None:
        error = reported_error if exit_code == 0 else f"{reported_error} ({describe_exit(exit_code, collected)})"
        return AgentResult(success=False, error=truncate(error, MAX_ERROR), error_kind="agent_error", **common)
    if exit_code != 0:
        return AgentResult(success=False, error=describe_exit(exit_code, collected), error_kind="agent_error",
                           **common)
    if not finished:
        return AgentResult(success=False, error=unfinished, error_kind="agent_error", **common)
    return AgentResult(success=True, **common)
