"""Optio's keys as the deployed functions get them: from Secrets Manager (its stand-in, which
serves a secret only to the functions whose role's policies allow it), at first use, then from
the cache; never from their environment."""
from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.support.api import Api

from .deployment import CREDENTIALS, Deployment, access_key_of
from .template import REGION

pytestmark = pytest.mark.xdist_group("topology")


def test_the_api_reads_the_admin_token_from_secrets_manager_once_then_keeps_it(deployed: Deployment) -> None:
    assert deployed.secrets_manager is not None
    [api_fn] = [f for f in deployed.template.functions() if f.logical_id == "APIHandler"]
    arn = deployed.environments["APIHandler"]["OPTIO_API_TOKEN_ARN"]
    assert "OPTIO_API_TOKEN" not in deployed.environments["APIHandler"]
    api = Api(deployed.url, deployed.token)
    assert api.get("/api/secrets").status_code == 200  # read at first use, if not before
    reads = deployed.secrets_manager.reads.count((access_key_of(api_fn), arn))
    assert reads >= 1
    for _ in range(5):
        assert api.get("/api/secrets").status_code == 200
    # Kept for OPTIO_KEYS_MAX_AGE_S (300 s): at most one more read, should that age run out meanwhile.
    assert deployed.secrets_manager.reads.count((access_key_of(api_fn), arn)) - reads <= 1
    assert Api(deployed.url, "optio_admin_not-the-token").get("/api/secrets").status_code == 401


def test_a_function_reads_only_the_keys_its_role_allows(deployed: Deployment) -> None:
    """What the functions' reads rest on: the stand-in answers as the role's policies say."""
    assert deployed.secrets_manager is not None
    functions = {f.logical_id: f for f in deployed.template.functions()}
    api_token = deployed.environments["APIHandler"]["OPTIO_API_TOKEN_ARN"]
    secrets_key = deployed.environments["APIHandler"]["OPTIO_SECRETS_KEY_ARN"]

    url = deployed.secrets_manager.url

    def client(logical_id: str) -> Any:
        return boto3.client("secretsmanager", endpoint_url=url, region_name=REGION,
                            aws_access_key_id=access_key_of(functions[logical_id]),
                            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])

    assert client("Launcher").get_secret_value(SecretId=secrets_key)["SecretString"]
    for denied in ("Launcher", "TriggerTick", "ExecutionStream"):
        with pytest.raises(ClientError) as raised:
            client(denied).get_secret_value(SecretId=api_token)
        assert raised.value.response["Error"]["Code"] == "AccessDeniedException", denied
