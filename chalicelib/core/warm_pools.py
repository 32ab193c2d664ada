"""Warm pools: how many runners a repo or standalone task keeps started and waiting for work
(`warmPoolSize`), and what to do to get there. `plan_pool(pool, now) -> [actions]`, pure.

A warm runner (a pod on EKS, a process locally) is registered as a row in the warm-pods table when
it is started, idle; it asks the API for work with a token scoped to its pool and itself. The
engine hands an attempt to an idle runner with one conditional write (the runner must still be
idle, the execution still unlaunched), after which the runner belongs to that attempt, no longer
to the pool: the pool is refilled, and the runner's row is forgotten once its attempt's agent has
exited.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from .states import ExecutionKind

# A pool's size is bounded: every warm runner is a pod (or process) kept running for nothing
# until it is used.
MAX_WARM_POOL_SIZE = 10
# A runner just asked for may not show yet where its launcher starts it asynchronously (on AWS the
# launcher Lambda creates its Job, and Lambda retries for about three minutes): missing within
# this long of its start is starting, not dead.
ASYNC_START_GRACE = timedelta(minutes=4)

_POOL_PREFIXES = {ExecutionKind.REPO_TASK: "repo#", ExecutionKind.RUN: "task#"}


def pool_key(kind: ExecutionKind, scope_id: str) -> str:
    """The pool of a scope: a repo's (its repo tasks) or a standalone task's (its runs)."""
    return _POOL_PREFIXES[kind] + scope_id


def pool_scope(pool: str) -> tuple[ExecutionKind, str]:
    for kind, prefix in _POOL_PREFIXES.items():
        if pool.startswith(prefix):
            return kind, pool.removeprefix(prefix)
    raise ValueError(f"not a warm pool: {pool!r}")


class WarmState(StrEnum):
    IDLE = "idle"  # started (or starting), waiting for work
    ASSIGNED = "assigned"  # an attempt was handed to it; it belongs to that attempt now


@dataclass(frozen=True)
class WarmPodView:
    id: str
    state: WarmState
    created_at: datetime
    # What the launcher says: its process or pod is pending or running.
    alive: bool


@dataclass(frozen=True)
class PoolView:
    pool: str
    # The definition's warmPoolSize; 0 when the repo or standalone task is gone.
    size: int
    pods: Sequence[WarmPodView]
    # How long a runner that does not show yet counts as starting (ASYNC_START_GRACE, or none
    # where the launcher starts it before answering).
    start_grace: timedelta = timedelta(0)


@dataclass(frozen=True)
class StartPods:
    pool: str
    count: int
    reason: str


@dataclass(frozen=True)
class StopPod:
    """An idle runner to stop: its row is deleted only while it is still idle (an attempt may be
    handed to it meanwhile, and then it stays), then its pod or process is stopped."""

    pod_id: str
    reason: str


@dataclass(frozen=True)
class ForgetPod:
    """An assigned runner whose agent has exited: its row goes; its attempt's status no longer
    reads it."""

    pod_id: str
    reason: str


PoolAction = StartPods | StopPod | ForgetPod


def plan_pool(pool: PoolView, now: datetime) -> list[PoolAction]:
    """Dead idle runners are stopped and replaced, extra idle ones stopped (the youngest first:
    the oldest are surely up), missing ones started; finished assigned ones forgotten."""
    planned: list[PoolAction] = []
    ready: list[WarmPodView] = []
    for pod in pool.pods:
        starting = now - pod.created_at < pool.start_grace
        if pod.state is WarmState.ASSIGNED:
            if not pod.alive and not starting:
                planned.append(ForgetPod(pod.id, "its attempt's agent has exited"))
        elif pod.alive or starting:
            ready.append(pod)
        else:
            planned.append(StopPod(pod.id, "the warm runner died; replacing it"))
    extra = len(ready) - max(pool.size, 0)
    if extra > 0:
        youngest = sorted(ready, key=lambda p: (p.created_at, p.id), reverse=True)[:extra]
        planned += [StopPod(p.id, f"the pool's size is {pool.size}") for p in youngest]
    elif extra < 0:
        planned.append(StartPods(pool.pool, -extra, f"{len(ready)} of {pool.size} warm runners"))
    return planned
