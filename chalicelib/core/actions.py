"""What a decision asks the engine to do: one typed action, with the reason it was chosen. Shared
by the reconciler (`reconcile.decide`) and the pull-request policy (`pulls.decide_pr`), which
both return them."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .states import TaskState


@dataclass(frozen=True)
class Noop:
    reason: str


@dataclass(frozen=True)
class WaitUntil:
    at: datetime
    reason: str


@dataclass(frozen=True)
class Launch:
    attempt: int
    reason: str


@dataclass(frozen=True)
class StopAgent:
    attempt: int
    reason: str


@dataclass(frozen=True)
class Transition:
    to: TaskState
    reason: str
    changes: Mapping[str, object] = field(default_factory=dict)
    stop_agent: bool = False
    # A side effect once the transition is written: "close_issue" (a merged PR's linked issue).
    effect: str | None = None


@dataclass(frozen=True)
class MergePr:
    """Squash-merge the task's pull request; `acted_on` is recorded so it is tried once."""

    reason: str
    acted_on: str


@dataclass(frozen=True)
class LaunchReview:
    """Start the review agent on the task's pull request (a blocking `review` subtask)."""

    reason: str


Action = Noop | WaitUntil | Launch | StopAgent | Transition | MergePr | LaunchReview


def fail(reason_kind: str, message: str, *, retryable: bool = True, stop_agent: bool = False,
         free_retry: bool = False) -> Transition:
    changes: dict[str, object] = {"errorMessage": message, "errorKind": reason_kind, "retryable": retryable}
    if free_retry:
        changes["freeRetry"] = True
    return Transition(to=TaskState.FAILED, reason=message, changes=changes, stop_agent=stop_agent)
