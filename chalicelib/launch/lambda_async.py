"""The Kubernetes launcher as the engine uses it on AWS: launch and stop are handed to the launcher
Lambda (asynchronous invokes, so no handler waits on the cluster, and the API, whose cancel stops
an agent, needs no kubernetes client); status goes straight to the cluster.

Between the invoke and the Lambda creating the Job, the cluster knows no Job for the attempt.
That must not read as "the pod is gone", so a missing Job counts as pending while the attempt's
launch is recent (the execution's `launchedAt`). Lambda retries a failed asynchronous invocation twice
over about three minutes; a Job still missing after that is gone for good.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.core.reconcile import PodPhase, PodStatus
from chalicelib.core.states import LIFECYCLES, State
from chalicelib.core.timefmt import parse_iso
from chalicelib.core.warm_pools import ASYNC_START_GRACE
from chalicelib.exceptions import NotFound
from chalicelib.observability import logger
from chalicelib.store import executions, secrets

from .base import LaunchSpec, WarmPodSpec, stop_payload
from .kubernetes import KubernetesLauncher

LAUNCH_GRACE = timedelta(minutes=4)


class AsyncLambdaLauncher:
    name = "kubernetes"
    warm_networks = KubernetesLauncher.warm_networks
    warm_start_grace = ASYNC_START_GRACE

    def __init__(self, cluster: KubernetesLauncher, function_name: str, lambda_client: Any,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._cluster = cluster
        self._function_name = function_name
        self._lambda = lambda_client
        self._clock = clock

    def launch(self, spec: LaunchSpec) -> None:
        self._lambda.invoke(
            FunctionName=self._function_name,
            InvocationType="Event",
            Payload=json.dumps(spec.to_payload(secrets.seal)).encode(),
        )
        logger.info("agent launch requested", extra={"executionId": spec.execution_id, "attempt": spec.attempt,
                                                      "function": self._function_name})

    def start_warm(self, spec: WarmPodSpec) -> None:
        """Its Job is created by the launcher Lambda too; until then the pool counts it as starting."""
        self._lambda.invoke(FunctionName=self._function_name, InvocationType="Event",
                            Payload=json.dumps(spec.to_payload()).encode())
        logger.info("warm runner requested", extra={"pod": spec.pod_id, "pool": spec.pool,
                                                    "function": self._function_name})

    def warm_status(self, pod_id: str) -> PodStatus:
        return self._cluster.warm_status(pod_id)

    def stop_warm(self, pod_id: str) -> None:
        self._cluster.stop_warm(pod_id)

    def wake_warm(self, pod_id: str) -> None:
        self._cluster.wake_warm(pod_id)

    def status(self, execution_id: str, attempt: int) -> PodStatus:
        status = self._cluster.status(execution_id, attempt)
        if status.phase is PodPhase.NOT_FOUND and self._launch_in_flight(execution_id, attempt):
            return PodStatus(PodPhase.PENDING, "launching", "the launcher is creating the agent's Job")
        return status

    def cancel(self, execution_id: str, attempt: int) -> None:
        """The execution's state already says cancelled or failed: the person's answer does not
        wait for the Job's deletion, which the launcher does (a Job it has not made yet finds its
        runner refused and stops)."""
        self._lambda.invoke(FunctionName=self._function_name, InvocationType="Event",
                            Payload=json.dumps(stop_payload(execution_id, attempt)).encode())
        logger.info("agent stop requested", extra={"executionId": execution_id, "attempt": attempt,
                                                   "function": self._function_name})

    def _launch_in_flight(self, execution_id: str, attempt: int) -> bool:
        """Any execution, repo task or run: both launch through here."""
        try:
            launched = executions.get(execution_id)
        except NotFound:
            return False
        if int(launched.attempt) != attempt or not launched.launchedAt:
            return False
        # An attempt already over (failed, cancelled, finished) waits for no Job: its Job was seen
        # and deleted, or a late one finds its runner refused (409) and stops.
        if State(launched.state) not in LIFECYCLES[executions.kind_of(launched)].slot_states:
            return False
        return self._clock() - parse_iso(launched.launchedAt) < LAUNCH_GRACE

