"""What the engine needs from wherever agents run: launch, status and cancel, per attempt.

Every call is idempotent per (execution, attempt): launching an attempt that already exists is a
success, cancelling one that is gone is a success. That is what lets a redelivered stream record
or a retried invocation repeat a call without starting a second agent.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from chalicelib.core.reconcile import PodStatus


@dataclass(frozen=True)
class Resources:
    """CPU and memory of one agent, in Kubernetes quantities ("500m", "1Gi"); None: no limit."""

    cpu_request: str = "500m"
    memory_request: str = "1Gi"
    cpu_limit: str | None = None
    memory_limit: str | None = "4Gi"

    @classmethod
    def from_settings(cls, given: Mapping[str, Any] | None) -> Resources:
        """A repo's or standalone task's `resources` ({requests: {cpu, memory}, limits: {...}}) over
        the defaults."""
        given = given or {}
        requests, limits = given.get("requests") or {}, given.get("limits") or {}
        default = cls()
        return cls(
            cpu_request=str(requests.get("cpu") or default.cpu_request),
            memory_request=str(requests.get("memory") or default.memory_request),
            cpu_limit=str(limits["cpu"]) if limits.get("cpu") else default.cpu_limit,
            memory_limit=str(limits["memory"]) if limits.get("memory") else default.memory_limit,
        )

    def to_settings(self) -> dict[str, dict[str, str]]:
        limits = {"cpu": self.cpu_limit, "memory": self.memory_limit}
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {name: value for name, value in limits.items() if value is not None},
        }


@dataclass(frozen=True)
class LaunchSpec:
    execution_id: str
    attempt: int
    environment: Mapping[str, str]
    image: str | None = None
    # Environment variable name -> value: the stored secrets the agent gets (Kubernetes: through a
    # Secret the launcher writes for the attempt).
    secrets: Mapping[str, str] = field(default_factory=dict)
    resources: Resources = field(default_factory=Resources)
    # The agent's network (core.network): "none", "internet", or "allow" with `allow`'s hosts and CIDRs.
    network: str = "internet"
    allow: tuple[str, ...] = ()

    @classmethod
    def network_of(cls, configured: str | Mapping[str, Any]) -> dict[str, Any]:
        """The `network` and `allow` fields for a definition's `environment.network`."""
        if isinstance(configured, str):
            return {"network": configured}
        return {"network": "allow", "allow": tuple(str(entry) for entry in configured["allow"])}

    def to_payload(self, seal: Callable[[str], str]) -> dict[str, Any]:
        """JSON for the launcher Lambda's event; secret values only sealed (`seal` encrypts them
        with Optio's secrets key, which the launcher holds too)."""
        return {
            "executionId": self.execution_id,
            "attempt": self.attempt,
            "environment": dict(self.environment),
            "image": self.image,
            "sealedSecrets": {name: seal(value) for name, value in sorted(self.secrets.items())},
            "resources": self.resources.to_settings(),
            "network": self.network,
            "allow": list(self.allow),
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], unseal: Callable[[str], str]) -> LaunchSpec:
        return cls(
            # A payload sent before executions were named so says `taskId`.
            execution_id=str(payload.get("executionId") or payload["taskId"]),
            attempt=int(payload["attempt"]),
            environment={str(k): str(v) for k, v in dict(payload["environment"]).items()},
            image=payload.get("image"),
            secrets={str(name): unseal(str(token)) for name, token in (payload.get("sealedSecrets") or {}).items()},
            resources=Resources.from_settings(payload.get("resources")),
            # A payload from before networks were configured: the internet, as then.
            network=str(payload.get("network") or "internet"),
            allow=tuple(str(entry) for entry in payload.get("allow") or ()),
        )


def stop_payload(execution_id: str, attempt: int) -> dict[str, Any]:
    """JSON for the launcher Lambda's event that stops an attempt's agent (a launch's has no `stop`)."""
    return {"stop": True, "executionId": execution_id, "attempt": attempt}


def stop_of(payload: Mapping[str, Any]) -> tuple[str, int] | None:
    """The (execution, attempt) a launcher event stops; None for a launch."""
    if not payload.get("stop"):
        return None
    return str(payload["executionId"]), int(payload["attempt"])


@dataclass(frozen=True)
class WarmPodSpec:
    """A warm runner of a pool (`core.warm_pools`): the runner in its waiting mode, with its pool's
    image and resources; `environment` holds where to ask for work and its token, no secret of any
    execution (those come when it claims an attempt)."""

    pod_id: str
    pool: str
    environment: Mapping[str, str]
    image: str | None = None
    resources: Resources = field(default_factory=Resources)

    def to_payload(self) -> dict[str, Any]:
        return {"warmPod": {"podId": self.pod_id, "pool": self.pool, "environment": dict(self.environment),
                            "image": self.image, "resources": self.resources.to_settings()}}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> WarmPodSpec:
        given = payload["warmPod"]
        return cls(pod_id=str(given["podId"]), pool=str(given["pool"]),
                   environment={str(k): str(v) for k, v in dict(given["environment"]).items()},
                   image=given.get("image"), resources=Resources.from_settings(given.get("resources")))


class AgentLauncher(Protocol):
    name: str

    def launch(self, spec: LaunchSpec) -> None: ...

    def status(self, execution_id: str, attempt: int) -> PodStatus: ...

    def cancel(self, execution_id: str, attempt: int) -> None: ...

    # Warm runners (core.warm_pools), by their pod id; idempotent like the attempts' calls.
    def start_warm(self, spec: WarmPodSpec) -> None: ...

    def warm_status(self, pod_id: str) -> PodStatus: ...

    def stop_warm(self, pod_id: str) -> None: ...

    # Tells a warm runner an attempt was handed to it, so it claims it now rather than at its next
    # ask; where that cannot be done (EKS: the engine does not reach into pods) its next ask finds it.
    def wake_warm(self, pod_id: str) -> None: ...

    # Which networks a warm runner can give an attempt: locally the runner enforces "none" itself;
    # on EKS a pod's network is its NetworkPolicy's, written for an attempt's own Job.
    warm_networks: frozenset[str]
    # How long a warm runner it was asked to start may not show yet (core.warm_pools).
    warm_start_grace: timedelta
