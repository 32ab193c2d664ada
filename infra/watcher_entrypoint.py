"""The watcher container's entrypoint: the secrets key (to read the GITHUB_TOKEN secret) comes
from Secrets Manager through the pod's IRSA role, then `python -m chalicelib.forge.watcher` runs.
Kubernetes Secrets cannot hold it without copying it into the template."""
from __future__ import annotations

import os
import runpy

import boto3


def main() -> None:
    arn = os.environ.get("OPTIO_SECRETS_KEY_SECRET")
    if arn and not os.environ.get("OPTIO_SECRETS_KEY"):
        value = boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
        # The stack generates 43 characters; a Fernet key is those and "=" (see stack.py).
        os.environ["OPTIO_SECRETS_KEY"] = value if value.endswith("=") else value + "="
    runpy.run_module("chalicelib.forge.watcher", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
