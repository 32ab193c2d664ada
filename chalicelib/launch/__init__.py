"""Where agents run. `get_launcher()` picks the one `OPTIO_LAUNCHER` names."""
from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING

from chalicelib.settings import settings

from .base import AgentLauncher, LaunchSpec, Resources

if TYPE_CHECKING:
    from .kubernetes import KubernetesLauncher

__all__ = ["AgentLauncher", "LaunchSpec", "Resources", "cluster_launcher", "get_launcher"]


@lru_cache(maxsize=1)
def get_launcher() -> AgentLauncher:
    if settings.launcher == "local":
        from .local import LocalLauncher

        return LocalLauncher(os.path.join(settings.data_dir, "work"), settings.runner_python)
    if settings.launcher == "kubernetes":
        if not settings.launcher_function:
            return cluster_launcher()
        import boto3

        from .lambda_async import AsyncLambdaLauncher

        return AsyncLambdaLauncher(cluster_launcher(), settings.launcher_function,
                                   boto3.client("lambda", region_name=settings.region))
    raise RuntimeError(f"unknown OPTIO_LAUNCHER {settings.launcher!r}: use 'local' or 'kubernetes'")


@lru_cache(maxsize=1)
def cluster_launcher() -> KubernetesLauncher:
    """The launcher that talks to the cluster itself: the launcher Lambda's, or the engine's when
    no launcher Lambda is configured. Loads no kubernetes code until its first request."""
    from .k8s_client import ClusterAccess
    from .kubernetes import KubernetesLauncher, job_settings

    return KubernetesLauncher(job_settings(settings), ClusterAccess.from_settings(settings))
