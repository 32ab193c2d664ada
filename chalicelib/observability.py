"""Structured JSON logs and CloudWatch metrics (embedded metric format), via powertools.

Metrics (namespace `Optio`): `TaskTransitions` (Count, dimension `to`), `TaskFailures` (Count,
dimension `reason`, the failure kind), `TimeToStartMs` (created -> agent running), `TaskCostUsd`
(per finished attempt); for standalone runs `RunTransitions`, `RunFailures` and `RunCostUsd`;
`QueueDepth` and `AgentsRunning` (the resync's gauges, each minute); `WatcherPolls` (the PR
watcher, each poll: `watcher_polled`). Each is written as its own EMF line at once, so no handler
has to remember to flush.
"""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit, single_metric

from chalicelib.settings import settings

logger = Logger(service="optio", level=settings.log_level)

NAMESPACE = "Optio"


# The metric names of each kind of execution: "Task..." for repo tasks, "Run..." for runs.
_METRIC_PREFIXES = {"repo-task": "Task", "workflow-run": "Run"}


def transition(kind: str, to: str, time_to_start_ms: float | None, cost_usd: float | None,
               failure: str | None = None) -> None:
    """`failure`: the failure kind of a transition into `failed`."""
    prefix = _METRIC_PREFIXES.get(kind, "Task")
    with single_metric(name=f"{prefix}Transitions", unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="to", value=to)
    if failure is not None:
        with single_metric(name=f"{prefix}Failures", unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as metric:
            metric.add_dimension(name="reason", value=failure)
    if time_to_start_ms is not None:
        with single_metric(name="TimeToStartMs", unit=MetricUnit.Milliseconds, value=time_to_start_ms,
                           namespace=NAMESPACE):
            pass
    if cost_usd is not None:
        with single_metric(name=f"{prefix}CostUsd", unit=MetricUnit.NoUnit, value=cost_usd, namespace=NAMESPACE):
            pass


def gauges(queue_depth: int, agents_running: int) -> None:
    """Executions waiting for a slot, and slots taken (agents running), now."""
    for name, value in (("QueueDepth", queue_depth), ("AgentsRunning", agents_running)):
        with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=NAMESPACE):
            pass


def watcher_polled(service: str) -> dict[str, Any]:
    """One poll of the PR watcher, as an EMF document: the watcher runs in a pod, whose output no
    CloudWatch agent reads, so it sends the document to CloudWatch Logs itself
    (infra/watcher_entrypoint.py), where the metric is extracted."""
    metrics = Metrics(namespace=NAMESPACE, service=service)
    metrics.add_metric(name="WatcherPolls", unit=MetricUnit.Count, value=1)
    document = dict(metrics.serialize_metric_set())
    metrics.clear_metrics()
    return document
