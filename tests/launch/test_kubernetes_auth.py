"""Getting into the cluster: the EKS token made from an STS presigned URL (no aws CLI), renewed as
it ages, and sent as the bearer token; kubeconfig auth; settings that cannot work are refused."""
from __future__ import annotations

import base64
import dataclasses
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.fakes.kubernetes_api import FakeKubernetes

CLUSTER = "optio-test"


def decode(token: str) -> str:
    assert token.startswith("k8s-aws-v1.") and "=" not in token
    body = token[len("k8s-aws-v1."):]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()


def signed_for_the_cluster(authorization: str | None) -> bool:
    if not authorization or not authorization.startswith("Bearer k8s-aws-v1."):
        return False
    query = parse_qs(urlsplit(decode(authorization.removeprefix("Bearer "))).query)
    return "x-k8s-aws-id" in query["X-Amz-SignedHeaders"][0].split(";")


def test_eks_token_is_a_presigned_get_caller_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.launch.eks_auth import eks_token

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEY")
    url = urlsplit(decode(eks_token(CLUSTER, "eu-west-1")))
    query = parse_qs(url.query)

    assert (url.scheme, url.netloc) == ("https", "sts.eu-west-1.amazonaws.com")
    assert query["Action"] == ["GetCallerIdentity"] and query["Version"] == ["2011-06-15"]
    assert query["X-Amz-Expires"] == ["60"]
    assert query["X-Amz-SignedHeaders"][0].split(";") == ["host", "x-k8s-aws-id"]
    assert query["X-Amz-Credential"][0].startswith("AKIAEXAMPLEKEY/")
    assert signed_for_the_cluster("Bearer " + eks_token(CLUSTER, "eu-west-1"))


def test_the_token_is_kept_then_renewed(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.launch.eks_auth import RENEW_AFTER_S, EksTokenSource

    now = [1000.0]
    source = EksTokenSource(CLUSTER, "us-east-1", clock=lambda: now[0])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFIRSTKEY")
    first = source.token()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASECONDKEY")

    now[0] += RENEW_AFTER_S - 1
    assert source.token() == first
    now[0] += 2
    renewed = decode(source.token())
    assert "AKIASECONDKEY" in renewed and "AKIAFIRSTKEY" not in renewed


def test_eks_auth_sends_the_token_to_the_cluster(cluster: FakeKubernetes) -> None:
    from chalicelib.launch import LaunchSpec
    from chalicelib.launch.k8s_client import ClusterAccess
    from chalicelib.launch.kubernetes import KubernetesLauncher

    from .support import JOBS

    cluster.authorize = signed_for_the_cluster
    access = ClusterAccess(auth="eks", region="us-east-1", eks_cluster_name=CLUSTER, eks_endpoint=cluster.url)
    launcher = KubernetesLauncher(JOBS, access)
    task_id = str(uuid.uuid4())

    launcher.launch(LaunchSpec(execution_id=task_id, attempt=1, environment={}))

    assert launcher.status(task_id, 1).alive
    assert [r.method for r in cluster.requests] == ["POST", "GET", "GET"]


def test_a_refused_token_is_an_error(cluster: FakeKubernetes, kubeconfig: Path) -> None:
    from kubernetes.client import ApiException

    from .support import kubernetes_launcher

    cluster.authorize = lambda header: header == "Bearer something-else"
    with pytest.raises(ApiException) as refused:
        kubernetes_launcher(kubeconfig).status(str(uuid.uuid4()), 1)
    assert refused.value.status == 401


def test_eks_certificate_authority_is_used() -> None:
    from chalicelib.launch.k8s_client import ClusterAccess, connect

    pem = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
    access = ClusterAccess(auth="eks", region="us-east-1", eks_cluster_name=CLUSTER,
                           eks_endpoint="https://ABC.gr7.us-east-1.eks.amazonaws.com",
                           eks_ca_data=base64.b64encode(pem.encode()).decode())

    configuration = connect(access).configuration

    assert configuration.host == "https://ABC.gr7.us-east-1.eks.amazonaws.com"
    assert configuration.ca_cert_data == pem
    assert signed_for_the_cluster(configuration.get_api_key_with_prefix("authorization"))


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"auth": "token"}, "OPTIO_K8S_AUTH must be one of eks, incluster, kubeconfig"),
        ({"eks_cluster_name": None}, "OPTIO_EKS_CLUSTER_NAME and OPTIO_EKS_ENDPOINT"),
        ({"eks_endpoint": None}, "OPTIO_EKS_CLUSTER_NAME and OPTIO_EKS_ENDPOINT"),
    ],
)
def test_settings_that_cannot_work_are_refused_up_front(changes: dict[str, object], problem: str) -> None:
    from chalicelib.launch.k8s_client import ClusterAccess
    from chalicelib.launch.kubernetes import KubernetesLauncher

    from .support import JOBS

    access = ClusterAccess(auth="eks", region="us-east-1", eks_cluster_name=CLUSTER, eks_endpoint="https://x")
    with pytest.raises(ValueError, match=problem):
        KubernetesLauncher(JOBS, dataclasses.replace(access, **changes))  # type: ignore[arg-type]
