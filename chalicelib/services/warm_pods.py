"""A warm runner's claim (`POST /api/internal/warm-pods/:id/claim`): the attempt handed to it, if
any, with that attempt's input, its run token and its secrets, given out once. Until an attempt is
handed to it a warm runner learns nothing of any execution."""
from __future__ import annotations

from typing import Any

from chalicelib.core.tokens import warm_token_valid
from chalicelib.engine.credentials import run_token_secrets
from chalicelib.exceptions import NotFound, Unauthorized
from chalicelib.launch import LaunchSpec
from chalicelib.store import secrets, warm_pods


def claim(pod_id: str, token: str | None) -> dict[str, Any]:
    """`{"assigned": false}` while it waits; 404 once the runner left its pool (it then exits)."""
    pod = warm_pods.find(pod_id)
    if pod is None:
        raise NotFound(f"warm runner {pod_id} is not in a pool")
    if not token or not any(warm_token_valid(key, str(pod.pool), pod_id, token) for key in run_token_secrets()):
        raise Unauthorized("invalid warm runner token")
    launch = warm_pods.take_launch(pod)
    if launch is None:
        return {"assigned": False}
    spec = LaunchSpec.from_payload(launch, secrets.unseal)
    return {"assigned": True, "executionId": spec.execution_id, "attempt": spec.attempt,
            "environment": dict(spec.environment), "secrets": dict(spec.secrets), "network": spec.network}
