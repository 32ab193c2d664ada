"""Warm pools around `core.warm_pools`: read a pool (its size, its runners and what the launcher
says of each), ask the plan, carry it out; and hand a launching attempt to an idle runner of its
pool before a pod or process is launched for it.

Pools are brought to size by the resync (every minute on AWS, every few seconds locally) and at
once after a runner was handed an attempt, so a pool refills without waiting for the resync.
"""
from __future__ import annotations

import uuid

from chalicelib.core.states import ExecutionKind
from chalicelib.core.timefmt import parse_iso
from chalicelib.core.tokens import warm_token
from chalicelib.core.warm_pools import (
    ForgetPod,
    PoolAction,
    PoolView,
    StartPods,
    StopPod,
    WarmPodView,
    WarmState,
    plan_pool,
    pool_key,
    pool_scope,
)
from chalicelib.launch import LaunchSpec, Resources, get_launcher
from chalicelib.launch.base import WarmPodSpec
from chalicelib.observability import logger
from chalicelib.settings import settings
from chalicelib.store import executions, rows, secrets, warm_pods
from chalicelib.store.models import ExecutionModel, RepoModel, TaskConfigModel

from .api_url import api_url
from .clock import utcnow
from .credentials import run_token_secret


def pool_of(row: ExecutionModel) -> str:
    return pool_key(executions.kind_of(row), executions.scope_of(row))


def _definition(pool: str) -> RepoModel | TaskConfigModel | None:
    kind, scope = pool_scope(pool)
    if kind is ExecutionKind.REPO_TASK:
        return rows.find(RepoModel, scope)
    return rows.find(TaskConfigModel, scope)


def _size(definition: RepoModel | TaskConfigModel | None) -> int:
    """A deleted definition's pool, and a disabled standalone task's, keeps no runner."""
    if definition is None or getattr(definition, "enabled", True) is False:
        return 0
    return int(definition.warmPoolSize or 0)


def declared_pools() -> set[str]:
    """The pools their definitions ask for: repositories and standalone tasks are few, and read
    only by the resync."""
    repos = {pool_key(ExecutionKind.REPO_TASK, repo.id)
             for repo in RepoModel.scan(filter_condition=RepoModel.warmPoolSize > 0)}
    tasks = {pool_key(ExecutionKind.RUN, config.id)
             for config in TaskConfigModel.type_index.query(
                 "standalone", filter_condition=TaskConfigModel.warmPoolSize > 0)}
    return repos | tasks


def resync_pools() -> dict[str, int]:
    """Every pool brought to its size: the declared ones and every one that still has runners
    (a pool shrunk to 0, or whose definition was deleted)."""
    planned = failed = 0
    try:
        pools = declared_pools() | warm_pods.pools()
    except Exception:
        # The executions were reconciled and dispatched already; the pools wait for the next round.
        logger.exception("listing the warm pools failed")
        return {"warmPoolActions": 0, "warmPoolErrors": 1}
    for pool in sorted(pools):
        try:
            planned += len(refill(pool))
        except Exception:
            failed += 1
            logger.exception("warm pool refill failed", extra={"pool": pool})
    return {"warmPoolActions": planned, "warmPoolErrors": failed}


def refill(pool: str) -> list[PoolAction]:
    definition = _definition(pool)
    launcher = get_launcher()
    now = utcnow()
    pods = [WarmPodView(id=pod.id, state=WarmState(pod.state), created_at=parse_iso(pod.createdAt),
                        alive=launcher.warm_status(pod.id).alive)
            for pod in warm_pods.of_pool(pool)]
    planned = plan_pool(PoolView(pool, _size(definition), pods, launcher.warm_start_grace), now)
    for action in planned:
        logger.info("warm pool", extra={"pool": pool, "action": type(action).__name__, "reason": action.reason})
        if isinstance(action, StartPods):
            for _ in range(action.count):
                _start(pool, definition)
        elif isinstance(action, StopPod):
            # Only while still idle: a runner handed an attempt meanwhile keeps it.
            if warm_pods.remove_idle(action.pod_id):
                launcher.stop_warm(action.pod_id)
        elif isinstance(action, ForgetPod):
            warm_pods.forget(action.pod_id)
    return planned


def _start(pool: str, definition: RepoModel | TaskConfigModel | None) -> None:
    """Registered first, so a runner whose start fails is seen (and replaced once its start
    grace is over) rather than lost."""
    pod_id = uuid.uuid4().hex[:16]
    warm_pods.register(pool, pod_id, utcnow())
    get_launcher().start_warm(warm_spec(pool, pod_id, definition))


def warm_spec(pool: str, pod_id: str, definition: RepoModel | TaskConfigModel | None) -> WarmPodSpec:
    """What a waiting runner needs: where to ask, as whom, how often. The image and resources
    are its pool's, as its attempts' would be."""
    environment = {"OPTIO_API_URL": api_url(), "OPTIO_WARM_POD": pod_id,
                   "OPTIO_WARM_TOKEN": warm_token(run_token_secret(), pool, pod_id),
                   "OPTIO_WARM_POLL_MS": str(settings.warm_poll_ms)}
    if isinstance(definition, TaskConfigModel):
        given = definition.environment or {}
        return WarmPodSpec(pod_id, pool, environment, given.get("image"),
                           Resources.from_settings(given.get("resources")))
    return WarmPodSpec(pod_id, pool, environment, definition.image if definition is not None else None)


def hand_over(row: ExecutionModel, spec: LaunchSpec) -> bool:
    """Hands the attempt to an idle runner of its pool, the oldest alive first; True when one
    took it (the launch is then written down with it). LostRace when the execution moved, so
    that a caller about to launch a pod for it decides again."""
    launcher = get_launcher()
    if spec.network not in launcher.warm_networks:
        return False
    pool = pool_of(row)
    idle = sorted((pod for pod in warm_pods.of_pool(pool) if pod.state == WarmState.IDLE.value),
                  key=lambda pod: pod.createdAt)
    for pod in idle:
        if not launcher.warm_status(pod.id).alive:
            continue
        try:
            warm_pods.assign(row, pod, spec.to_payload(secrets.seal), utcnow())
        except warm_pods.PodTaken:
            continue
        launcher.wake_warm(pod.id)
        logger.info("attempt handed to a warm runner",
                    extra={"executionId": row.id, "attempt": spec.attempt, "pod": pod.id, "pool": pool})
        try:
            refill(pool)
        except Exception:
            # The resync brings it to size.
            logger.exception("warm pool refill failed", extra={"pool": pool})
        return True
    # No runner took it here; but another reconciler, on the same version of the row, may have
    # handed it to the one this found taken (or gone) before a Job is launched for it too: two
    # runners for one attempt. Its hand-over is written before that runner was read, so this read
    # sees it.
    if int(executions.get(row.id).version) != int(row.version):
        raise executions.LostRace(f"{row.type} {row.id} changed meanwhile", state=row.state)
    return False
