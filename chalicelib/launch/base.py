"""What the engine needs from wherever agents run: launch, status and cancel, per attempt.

Every call is idempotent per (task, attempt): launching an attempt that already exists is a
success, cancelling one that is gone is a success. That is what lets a redelivered stream record
or a retried invocation repeat a call without starting a second agent.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from chalicelib.core.reconcile import PodStatus


@dataclass(frozen=True)
class LaunchSpec:
    task_id: str
    attempt: int
    environment: Mapping[str, str]
    image: str | None = None
    secrets: Mapping[str, str] = field(default_factory=dict)


class AgentLauncher(Protocol):
    name: str

    def launch(self, spec: LaunchSpec) -> None: ...

    def status(self, task_id: str, attempt: int) -> PodStatus: ...

    def cancel(self, task_id: str, attempt: int) -> None: ...
