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


def task_transition(to: str, time_to_start_ms: float | None, cost_usd: float | None) -> None:
    with single_metric(name="TaskTransitions", unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="to", value=to)
    if time_to_start_ms is not None:
        with single_metric(name="TimeToStartMs", unit=MetricUnit.Milliseconds, value=time_to_start_ms,
                           namespace=NAMESPACE):
            pass
    if cost_usd is not None:
        with single_metric(name="TaskCostUsd", unit=MetricUnit.NoUnit, value=cost_usd, namespace=NAMESPACE):
            pass


def run_transition(to: str, cost_usd: float | None) -> None:
    with single_metric(name="RunTransitions", unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="to", value=to)
    if cost_usd is not None:
        with single_metric(name="RunCostUsd", unit=MetricUnit.NoUnit, value=cost_usd, namespace=NAMESPACE):
            pass
