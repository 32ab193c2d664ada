"""What a decision asks the executor to do: one typed action, with the reason it was chosen.
Returned by the reconciler (`reconcile.decide`), the pull-request policy (`pull_requests.decide_pr`) and
the requests of people and runners (`requests.decide_request`)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from .failures import FailureKind, Retry
from .states import State


class Effect(StrEnum):
    """A side effect once a transition is written."""

    # A merged pull request closes the issue it was opened for.
    CLOSE_ISSUE = "close_issue"
    # Automatic resumes stopped at their cap: the pull request says so, for whoever reads it next.
    COMMENT_ON_PR = "comment_on_pr"


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
    to: State
    reason: str
    changes: Mapping[str, object] = field(default_factory=dict)
    stop_agent: bool = False
    effect: Effect | None = None


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


def fail(kind: FailureKind, message: str, *, stop_agent: bool = False,
         changes: Mapping[str, object] | None = None) -> Transition:
    """-> `failed`, retried or not as the failure-kind table says."""
    fields: dict[str, object] = {"errorMessage": message, "errorKind": kind.value, "retryable": kind.retryable}
    if kind.retry is Retry.FREE:
        fields["freeRetry"] = True
    fields.update(changes or {})
    return Transition(to=State.FAILED, reason=message, changes=fields, stop_agent=stop_agent)
