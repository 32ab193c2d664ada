"""A configured kubernetes `ApiClient` for one of three ways in: EKS (an IAM token from the
Lambda's role), in-cluster (a pod's service account) or a kubeconfig file.

The kubernetes package is imported here, on first use, so that nothing imports it just by
importing the launcher (the API function never does).
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.settings import Settings

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

AUTH_MODES = ("eks", "incluster", "kubeconfig")


@dataclass(frozen=True)
class ClusterAccess:
    auth: str
    region: str
    eks_cluster_name: str | None = None
    eks_endpoint: str | None = None
    eks_ca_data: str | None = None
    kubeconfig: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ClusterAccess:
        return cls(auth=settings.k8s_auth, region=settings.region, eks_cluster_name=settings.eks_cluster_name,
                   eks_endpoint=settings.eks_endpoint, eks_ca_data=settings.eks_ca_data,
                   kubeconfig=settings.kubeconfig)

    def check(self) -> None:
        """Raises ValueError naming what is missing, before any request is tried."""
        if self.auth not in AUTH_MODES:
            raise ValueError(f"OPTIO_K8S_AUTH must be one of {', '.join(AUTH_MODES)}, not {self.auth!r}")
        if self.auth == "eks" and not (self.eks_cluster_name and self.eks_endpoint):
            raise ValueError("EKS auth needs OPTIO_EKS_CLUSTER_NAME and OPTIO_EKS_ENDPOINT")


def connect(access: ClusterAccess) -> ApiClient:
    from kubernetes import client, config

    access.check()
    configuration = client.Configuration()
    if access.auth == "eks":
        _configure_eks(configuration, access)
    elif access.auth == "incluster":
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    else:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=access.kubeconfig, client_configuration=configuration, persist_config=False)
    return client.ApiClient(configuration)


def _configure_eks(configuration: Any, access: ClusterAccess) -> None:
    from .eks_auth import EksTokenSource

    assert access.eks_cluster_name is not None and access.eks_endpoint is not None
    tokens = EksTokenSource(access.eks_cluster_name, access.region)
    configuration.host = access.eks_endpoint
    if access.eks_ca_data:
        configuration.ca_cert_data = base64.b64decode(access.eks_ca_data).decode()
    configuration.api_key_prefix = {"authorization": "Bearer"}
    # The client sends the header only for a key that is present; the hook then keeps it fresh.
    configuration.api_key = {"authorization": tokens.token()}

    def renew(configuration: Any) -> None:
        configuration.api_key["authorization"] = tokens.token()

    # Called before every request: the token source hands back the same token until it ages.
    configuration.refresh_api_key_hook = renew
