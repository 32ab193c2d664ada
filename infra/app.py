"""The CDK app: `cdk synth` / `cdk deploy optio-prod`. One stack per Chalice stage.

Context (`-c key=value`; `make deploy CLUSTER=name` fills the cluster's from `aws eks describe-cluster`):
  clusterName, clusterEndpoint, clusterCaData, oidcIssuer, kubectlRoleArn: an existing EKS cluster;
    without clusterName the stack creates a cluster of its own (VPC, managed node group);
  vpcId, subnetIds, securityGroupIds (comma separated): put the launcher in the cluster's VPC (private endpoint);
  nodeInstanceType, nodeMinSize, nodeMaxSize: the created cluster's node group (t3.large, 1..3);
  adminPrincipalArn: an IAM role or user given cluster-admin on the created cluster (make deploy: you);
  availabilityZones (comma separated): the AZs of the created cluster's VPC without a lookup
    (the offline synth in tests/infra gives them; a deploy looks them up);
  imageTag: tag of the runner and watcher images in the stack's ECR repositories;
  runnerImageDigest, watcherImageDigest (sha256:...): the pods pull those images by digest
    (make deploy resolves the pushed tag's); without them, by the tag;
  sessionExpiryDays: saved agent sessions are deleted this many days after they were saved (30);
  bedrockModels (comma separated): Bedrock model ids (or inference profile ids such as
    us.anthropic.claude-...) the agent pods' role may invoke; none by default;
  domainName, certificateArn: serve the API and the dashboard on this domain too, with this ACM
    certificate (in the stack's region); point the domain's DNS at the ApiDomainTarget output;
  lambdaArchitecture: arm64 (the default) or x86_64, the functions' and the layer's (the tests run
    the packages on this machine: tests/infra gives x86_64 to the synth the topology mode runs);
  identityProviderType (SAML or OIDC) and its settings, or signInIssuer and signInClientId: how
    people sign in (optio_infra/sign_in.py; default: a Cognito user pool of the stack's own);
  apiRateLimit, apiBurstLimit: the API stage's throttle (50 requests a second, bursts of 100);
  publicRateLimit: requests per source IP per 5 minutes on the public routes before the WAF blocks (300);
  reservedConcurrency: false for an account whose Lambda concurrency limit is still a new account's
    10 (any reservation fails there); default true (optio_infra.stack.RESERVED_CONCURRENCY);
  alarmEmail: an address the alarms' SNS topic mails (it confirms the subscription once);
  stages: which stacks to build (default "dev,prod").
"""
from __future__ import annotations

import fcntl
import os
import sys

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

# No bytecode from the synth in the project (chalice copies chalicelib/ whole, __pycache__ too; the
# packaging leaves bytecode out anyway) nor from its subprocesses (pip, the cold-start import).
sys.dont_write_bytecode = True
os.environ["PYTHONDONTWRITEBYTECODE"] = "1"

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # the project: chalicelib.store.tables

from optio_infra import packaging  # noqa: E402
from optio_infra.sign_in import SignInConfig  # noqa: E402
from optio_infra.stack import ClusterConfig, EdgeConfig, Images, NodeConfig, OptioStack  # noqa: E402


def main() -> None:
    # One synth at a time per checkout: they share ./chalice.out (emptied below) and infra/build.
    os.makedirs(packaging.BUILD, exist_ok=True)
    with open(os.path.join(packaging.BUILD, ".synth.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        synth()


def synth() -> None:
    # `chalice package` makes boto3 clients (no calls): give them the stack's region.
    os.environ.setdefault("AWS_DEFAULT_REGION", os.environ.get("CDK_DEFAULT_REGION", "us-east-1"))
    packaging.clean_chalice_out()
    app = cdk.App()
    ctx = app.node.try_get_context
    cluster = ClusterConfig.from_context(ctx)
    stages = str(ctx("stages") or "dev,prod").split(",")
    account, region = os.environ.get("CDK_DEFAULT_ACCOUNT"), os.environ.get("CDK_DEFAULT_REGION")
    if ctx("availabilityZones") and account and region:
        app.node.set_context(f"availability-zones:account={account}:region={region}",
                             str(ctx("availabilityZones")).split(","))
    env = cdk.Environment(account=account, region=region)
    if bool(ctx("domainName")) != bool(ctx("certificateArn")):
        raise ValueError("domainName and certificateArn go together: the domain needs its certificate")
    for stage in stages:
        # The construct id is the Chalice stage name (the Chalice construct packages that stage).
        OptioStack(app, stage, stack_name=f"optio-{stage}", env=env, cluster=cluster,
                   nodes=NodeConfig.from_context(ctx), images=Images.from_context(ctx),
                   admin_principal=str(ctx("adminPrincipalArn") or ""),
                   session_expiry_days=int(ctx("sessionExpiryDays") or 30),
                   bedrock_models=tuple(m for m in str(ctx("bedrockModels") or "").split(",") if m),
                   architecture=str(ctx("lambdaArchitecture") or "arm64"),
                   domain_name=str(ctx("domainName") or ""), certificate_arn=str(ctx("certificateArn") or ""),
                   sign_in=SignInConfig.from_context(ctx), edge=EdgeConfig.from_context(ctx),
                   alarm_email=str(ctx("alarmEmail") or ""))
    # cdk-nag's AwsSolutions pack over every stack, as a policy validation plugin: an unacknowledged
    # finding fails `cdk synth` and `cdk deploy`; each acknowledgement gives its reason where it is
    # made. Findings land in the cloud assembly's validation-report.json; the acknowledgements, with
    # their reasons, in each resource's `cdk_nag` metadata (tests/infra/test_nag.py reads both).
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True))
    app.synth()


if __name__ == "__main__":
    main()
