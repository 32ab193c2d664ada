"""A bearer token for EKS from the caller's IAM identity, without the aws CLI.

The token is an STS `GetCallerIdentity` URL presigned with the cluster's name in the signed
`x-k8s-aws-id` header; the cluster calls it to learn who we are. Same scheme as
`aws eks get-token`: "k8s-aws-v1." + base64url(url), padding removed.
"""
from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from typing import Any

import botocore.session

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_HEADER = "x-k8s-aws-id"
# EKS accepts a token for 15 minutes whatever the URL says, and refuses URLs valid for longer
# than 60 s; a fresh one is made well before the 15 minutes are up.
URL_EXPIRES_S = 60
RENEW_AFTER_S = 10 * 60


def eks_token(cluster_name: str, region: str, session: botocore.session.Session | None = None) -> str:
    sts = (session or botocore.session.get_session()).create_client("sts", region_name=region)

    def sign_cluster_name(request: Any, **_: Any) -> None:
        request.headers[CLUSTER_HEADER] = cluster_name

    sts.meta.events.register("before-sign.sts.GetCallerIdentity", sign_cluster_name)
    url = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=URL_EXPIRES_S, HttpMethod="GET")
    return TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


class EksTokenSource:
    """The current token, renewed when it gets old; Lambda containers outlive tokens."""

    def __init__(self, cluster_name: str, region: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._cluster_name = cluster_name
        self._region = region
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._made_at = 0.0

    def token(self) -> str:
        with self._lock:
            now = self._clock()
            if self._token is None or now - self._made_at > RENEW_AFTER_S:
                self._token = eks_token(self._cluster_name, self._region)
                self._made_at = now
            return self._token
