"""Why an attempt failed, and whether a retry can fix it: one table for every kind of execution.

Not retried: a bad key, a spent budget, an agent that used all its turns (the same prompt would use
them again), a person's cancel, a deleted definition, settings the user must fix (an image that
does not pull, a pod no node can take). Retried for free (not counted against `maxRetries`): an
attempt the platform took away. A rate limit is retried, after the backoff.
"""
from __future__ import annotations

from enum import Enum, StrEnum


class Retry(Enum):
    RETRIED = "retried"
    NOT_RETRIED = "not_retried"
    FREE = "free"


class FailureKind(StrEnum):
    # Reported by the runner.
    AGENT_ERROR = "agent_error"
    AUTH = "auth"
    RATE_LIMITED = "rate_limited"
    SETUP = "setup"
    GIT = "git"
    MAX_TURNS = "max_turns"
    BUDGET = "budget"
    # Seen by the launcher.
    POD_GONE = "pod_gone"
    NO_RESULT = "no_result"
    CRASH = "crash"
    OOM_KILLED = "oom_killed"
    EVICTED = "evicted"
    IMAGE_PULL = "image_pull"
    CONFIG_ERROR = "config_error"
    UNSCHEDULABLE = "unschedulable"
    DEADLINE_EXCEEDED = "deadline_exceeded"
    # Decided by Optio.
    LAUNCH_FAILED = "launch_failed"
    STALLED = "stalled"
    CANCELLED = "cancelled"
    DEPENDENCY_FAILED = "dependency_failed"
    REPO_MISSING = "repo_missing"
    CONFIG_MISSING = "config_missing"
    PR_CLOSED = "pr_closed"
    INTERNAL_ERROR = "internal_error"

    @classmethod
    def parse(cls, text: str | None) -> FailureKind:
        """A kind as reported over the wire; one we do not know is the agent's error."""
        try:
            return cls(text) if text else cls.AGENT_ERROR
        except ValueError:
            return cls.AGENT_ERROR

    @property
    def retry(self) -> Retry:
        return RETRY_POLICY.get(self, Retry.RETRIED)

    @property
    def retryable(self) -> bool:
        return self.retry is not Retry.NOT_RETRIED


F = FailureKind
RETRY_POLICY: dict[FailureKind, Retry] = {
    F.AUTH: Retry.NOT_RETRIED,
    F.BUDGET: Retry.NOT_RETRIED,
    F.MAX_TURNS: Retry.NOT_RETRIED,
    F.CANCELLED: Retry.NOT_RETRIED,
    F.CONFIG_MISSING: Retry.NOT_RETRIED,
    F.REPO_MISSING: Retry.NOT_RETRIED,
    F.DEPENDENCY_FAILED: Retry.NOT_RETRIED,
    F.PR_CLOSED: Retry.NOT_RETRIED,
    F.INTERNAL_ERROR: Retry.NOT_RETRIED,
    F.IMAGE_PULL: Retry.NOT_RETRIED,
    F.CONFIG_ERROR: Retry.NOT_RETRIED,
    F.UNSCHEDULABLE: Retry.NOT_RETRIED,
    F.EVICTED: Retry.FREE,
}
