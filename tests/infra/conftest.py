"""Synthesise the CDK app (both stages) once per test session, offline: no AWS account, no
lookups; only `chalice package` and the kubernetes layer reach PyPI, and only when their caches
(infra/build) are cold. `make infra` installs what it needs."""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA = REPO_ROOT / "infra"
CDK = INFRA / "node_modules" / ".bin" / "cdk"
STAGES = ("dev", "prod")

WHEELHOUSE = REPO_ROOT / ".deps" / "wheelhouse"
OFFLINE_ENV = {
    "CDK_DEFAULT_ACCOUNT": "123456789012",
    "CDK_DEFAULT_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "CDK_DISABLE_VERSION_CHECK": "1",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    # No credentials (every AWS_ variable is dropped) and no instance metadata: synth needs none.
    "AWS_EC2_METADATA_DISABLED": "true",
}


class Assembly:
    def __init__(self, out: Path) -> None:
        self.out = out

    def template(self, stage: str) -> dict[str, Any]:
        template: dict[str, Any] = json.loads((self.out / f"{stage}.template.json").read_text())
        return template

    def template_files(self) -> list[Path]:
        return sorted(self.out.glob("*.template.json"))

    def all_templates(self) -> dict[str, dict[str, Any]]:
        return {p.name: json.loads(p.read_text()) for p in self.template_files()}


ADMIN_ROLE = "arn:aws:iam::123456789012:role/Admin"
# The models the agent pods may invoke on Bedrock: a foundation model, and an inference profile.
BEDROCK_MODELS = ("anthropic.claude-3-5-haiku-20241022-v1:0", "us.anthropic.claude-sonnet-4-5-20250929-v1:0")

# A cluster that exists already, with a private endpoint: what `make deploy CLUSTER=...` passes.
IMPORTED_CLUSTER = {
    "clusterName": "existing",
    "clusterEndpoint": "https://EXAMPLE0123456789.gr7.us-east-1.eks.amazonaws.com",
    "clusterCaData": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==",
    "oidcIssuer": "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE0123456789",
    "kubectlRoleArn": "arn:aws:iam::123456789012:role/optio-kubectl",
    "vpcId": "vpc-0123456789abcdef0",
    "subnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
    "securityGroupIds": "sg-0123456789abcdef0",
}

# A domain of the deployer's own for the API and the dashboard, with its certificate.
CUSTOM_DOMAIN = {"domainName": "optio.example.com",
                 "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0123abcd-0123-4567-89ab-0123456789ab"}


def synth(out: Path, context: dict[str, str]) -> Assembly:
    if not CDK.exists():
        pytest.skip("the CDK CLI is not installed: run `make infra`")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPTIO_", "AWS_", "CDK_"))}
    env.update(OFFLINE_ENV)
    env["PATH"] = f"{REPO_ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    if WHEELHOUSE.is_dir():
        # Offline (tests/offline): the packaging's pip finds the wheels `make infra` fetched.
        env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(WHEELHOUSE))
    args = [str(CDK), "synth", "--quiet", "--no-notices", "--no-version-reporting", "--no-lookups",
            "--output", str(out)]
    for key, value in context.items():
        args += ["--context", f"{key}={value}"]
    result = subprocess.run(args, cwd=INFRA, env=env, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-8000:]
    return Assembly(out)


def shared_synth(tmp_path_factory: pytest.TempPathFactory, name: str, context: dict[str, str]) -> Assembly:
    """One synth per test run, whichever xdist worker asks first; the others wait and read it."""
    root = tmp_path_factory.getbasetemp().parent if os.environ.get("PYTEST_XDIST_WORKER") \
        else tmp_path_factory.getbasetemp()
    out, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            synth(out, context)
            done.touch()
    return Assembly(out)


# The topology mode (tests/topology) runs this synth's packages here, on x86-64: it is built for
# x86_64. The `imported` synth keeps a deploy's default, arm64: the same packages built for Graviton
# (tests/infra/test_packaging.py compares the two).
HOST_ARCHITECTURE = "x86_64"

# Both stages, each with an EKS cluster of its own (the default).
CONTEXT = {"stages": ",".join(STAGES), "availabilityZones": "us-east-1a,us-east-1b,us-east-1c",
           "adminPrincipalArn": ADMIN_ROLE, "bedrockModels": ",".join(BEDROCK_MODELS),
           "lambdaArchitecture": HOST_ARCHITECTURE}


@pytest.fixture(scope="session")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Assembly:
    """Both stages, each with an EKS cluster of its own (the default)."""
    return shared_synth(tmp_path_factory, "cdk.out", CONTEXT)


@pytest.fixture(scope="session")
def again(tmp_path_factory: pytest.TempPathFactory, assembly: Assembly) -> Assembly:
    """The same synth as `assembly` once more, of the same checkout, into another directory: what a
    second `make deploy` of an unchanged checkout would upload."""
    return shared_synth(tmp_path_factory, "cdk.out.again", CONTEXT)


# The edge and the alarms as a deploy may set them: a throttle of its own, no reserved concurrency
# (a new account's concurrency limit), an address the alarms mail.
EDGE_AND_ALARMS = {"apiRateLimit": "20", "apiBurstLimit": "40", "publicRateLimit": "100",
                   "reservedConcurrency": "false", "alarmEmail": "ops@example.com"}


@pytest.fixture(scope="session")
def imported(tmp_path_factory: pytest.TempPathFactory, assembly: Assembly) -> Assembly:
    """prod on an existing cluster with a private endpoint, on a custom domain, for arm64 (the
    default architecture), with EDGE_AND_ALARMS (after `assembly`: its caches are warm)."""
    return shared_synth(tmp_path_factory, "cdk.out.imported", {"stages": "prod", **IMPORTED_CLUSTER,
                                                               **CUSTOM_DOMAIN, **EDGE_AND_ALARMS})


# A function in a template: CDK's own (AWS::Lambda) or the Chalice app's (AWS::Serverless).
FUNCTIONS = ("AWS::Lambda::Function", "AWS::Serverless::Function")


def resources(template: dict[str, Any], *types: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] in types}


def walk(value: Any) -> list[Any]:
    """A template value and everything inside it, depth first."""
    found = [value]
    if isinstance(value, dict):
        for v in value.values():
            found += walk(v)
    elif isinstance(value, list):
        for v in value:
            found += walk(v)
    return found


def as_list(value: Any) -> list[Any]:
    """A policy's Action or Resource, which may be one value or a list."""
    return value if isinstance(value, list) else [value]


def cfn_lint() -> str:
    found = shutil.which("cfn-lint", path=str(REPO_ROOT / ".venv" / "bin")) or shutil.which("cfn-lint")
    assert found, "cfn-lint is not installed: run `make infra`"
    return found
