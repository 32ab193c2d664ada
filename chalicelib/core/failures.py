"""Which failures a retry cannot fix, one table for repo tasks and standalone runs alike: a bad
key, a spent budget, an agent that used all its turns (the same prompt would use them again), a
person's cancel, a deleted task. A rate limit (`rate_limited`) is retried, after the backoff."""
from __future__ import annotations

NOT_RETRIED = frozenset({"auth", "budget", "max_turns", "cancelled", "config_missing"})


def retryable(kind: str) -> bool:
    return kind not in NOT_RETRIED
