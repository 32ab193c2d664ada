"""Structured JSON logs and CloudWatch metrics (embedded metric format), via powertools.

Metrics (namespace `Optio`): `TaskTransitions` (Count, dimension `to`), `TimeToStartMs`
(created -> agent running), `TaskCostUsd` (per finished attempt); for standalone runs
`RunTransitions` (Count, dimension `to`) and `RunCostUsd`. Each is written as its own EMF
line at once, so no handler has to remember to flush.
"""
from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from chalicelib.settings import settings

logger = Logger(service="optio", level=settings.log_level)

NAMESPACE = "Optio"


# The metric names of each kind of execution: "Task..." for repo tasks, "Run..." for runs.
_METRIC_PREFIXES = {"repo-task": "Task", "workflow-run": "Run"}


def transition(kind: str, to: str, time_to_start_ms: float | None, cost_usd: float | None) -> None:
    prefix = _METRIC_PREFIXES.get(kind, "Task")
    with single_metric(name=f"{prefix}Transitions", unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="to", value=to)
    if time_to_start_ms is not None:
        with single_metric(name="TimeToStartMs", unit=MetricUnit.Milliseconds, value=time_to_start_ms,
                           namespace=NAMESPACE):
            pass
    if cost_usd is not None:
        with single_metric(name=f"{prefix}CostUsd", unit=MetricUnit.NoUnit, value=cost_usd, namespace=NAMESPACE):
            pass
