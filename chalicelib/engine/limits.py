"""The limits the executor and the dispatcher decide within: the timings from the settings, and
the concurrency limits of each kind's scopes (a repo's `maxConcurrentTasks`, a standalone task's
`maxConcurrent`)."""
from __future__ import annotations

from datetime import timedelta

from chalicelib.core.dispatch import SlotLimits
from chalicelib.core.reconcile import Limits
from chalicelib.core.schemas import STANDALONE_DEFAULT_MAX_CONCURRENT
from chalicelib.core.states import ExecutionKind
from chalicelib.settings import settings
from chalicelib.store.models import RepoModel, TaskConfigModel

# A queued repo task whose repo is gone still needs a limit to be planned (its launch then fails).
DEFAULT_REPO_LIMIT = 2


def timings() -> Limits:
    return Limits(
        stall_threshold=timedelta(milliseconds=settings.stall_threshold_ms),
        provision_timeout=timedelta(milliseconds=settings.provision_timeout_ms),
    )


def global_limit(kind: ExecutionKind) -> int:
    return settings.max_concurrent if kind is ExecutionKind.REPO_TASK else settings.max_workflow_concurrent


def scope_limits(kind: ExecutionKind, scopes: set[str]) -> dict[str, int]:
    """Each scope's limit, read in one batch."""
    if not scopes:
        return {}
    if kind is ExecutionKind.REPO_TASK:
        found = {repo.id: int(repo.maxConcurrentTasks) for repo in RepoModel.batch_get(list(scopes))}
        return {scope: found.get(scope, DEFAULT_REPO_LIMIT) for scope in scopes}
    configs = {c.id: int(c.maxConcurrent or STANDALONE_DEFAULT_MAX_CONCURRENT)
               for c in TaskConfigModel.batch_get(list(scopes))}
    return {scope: configs.get(scope, STANDALONE_DEFAULT_MAX_CONCURRENT) for scope in scopes}


def slot_limits(kind: ExecutionKind, scope: str) -> SlotLimits:
    return SlotLimits(global_limit(kind), scope_limits(kind, {scope})[scope])
