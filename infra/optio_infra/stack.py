"""One stage of Optio on AWS: tables, the Chalice app, the EKS pieces, secrets, alarms, dashboard."""
from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import aws_cdk as cdk
import jsii
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigatewayv2
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_eks as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as sm
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as sfn_tasks
from aws_cdk import aws_wafv2 as wafv2
from aws_cdk import custom_resources as cr
from aws_cdk.lambda_layer_kubectl_v36 import KubectlV36Layer
from chalice.cdk import Chalice
from constructs import Construct, IConstruct

from chalicelib.api.dashboard import CATCH_ALL
from chalicelib.launch.k8s_job import NETWORK_LABEL

from . import packaging
from .access import WATCHER, Access, function_access
from .sign_in import SignInConfig
from .tables import TableSpec, table_specs

NAMESPACE = "optio"
RUNNER_SERVICE_ACCOUNT = "optio-runner"
WATCHER_SERVICE_ACCOUNT = "optio-watcher"
LAUNCHER_GROUP = "optio-launcher"
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
LOG_RETENTION_DAYS = 30
STREAM_MAX_RETRIES = 5
METRICS_NAMESPACE = "Optio"  # chalicelib.observability.NAMESPACE
SERVICE = "optio"  # POWERTOOLS_SERVICE_NAME in .chalice/config.json: powertools adds it as a dimension
WATCHER_SERVICE = "optio-watcher"  # the watcher's POWERTOOLS_SERVICE_NAME
# The PR watcher polls every 30 s (OPTIO_PR_WATCH_INTERVAL): three intervals, in whole minutes.
WATCHER_SILENT_MINUTES = 2
# The failure kinds (chalicelib.core.failures.FailureKind) the dashboard shows, and those of them
# that are the agent's pod failing rather than the agent or the task.
POD_FAILURES = ("crash", "oom_killed", "evicted", "image_pull", "unschedulable", "pod_gone", "no_result",
                "deadline_exceeded", "config_error")
FAILURE_REASONS = (*POD_FAILURES, "agent_error", "auth", "rate_limited", "setup", "git", "max_turns", "budget",
                   "launch_failed", "stalled", "internal_error")
DASHBOARD_STATES = ("queued", "provisioning", "running", "needs_attention", "pr_opened", "completed",
                    "failed", "cancelled")

# The Chalice functions, by their logical id in `chalice package`'s template.
API_HANDLER = "APIHandler"
STREAM_FN = "ExecutionStream"
# The live logs (README "Live updates"): the logs table's stream function, and the WebSocket API's
# handlers (Chalice's fixed names).
LOG_STREAM_FN = "LogStream"
WEBSOCKET_FNS = ("WebsocketConnect", "WebsocketMessage", "WebsocketDisconnect")
# The stage Chalice gives the WebSocket API, part of its URL.
WEBSOCKET_STAGE = "api"
# Functions that post to the sockets (services.live.fan_out, the replay of a subscribe).
LIVE_SENDERS = frozenset({STREAM_FN, LOG_STREAM_FN, "WebsocketMessage"})
# A live line older than this is not worth pushing: a dashboard that missed it reads it on reconnect.
LOG_STREAM_MAX_AGE_S = 60
LAUNCHER_FN = "Launcher"
TIMER_FN = "ExecutionTimer"
# The functions that talk to the cluster, as the code has them: the launcher creates Jobs (and
# their Secrets) and deletes them; the reconciler reads pod status (chalicelib.engine.executor ->
# get_launcher().status), and it runs in the stream function, the resync and the timers' wake-ups
# (ExecutionTimer). Stopping an agent, a person's cancel in the API included, is an asynchronous
# invoke of the launcher (AsyncLambdaLauncher.cancel), so the API gets no kubernetes client. These
# get the kubernetes client (a layer), an access entry and, with a private cluster, the cluster's
# VPC. The ticket sync and the trigger tick only write rows (the stream launches what they create).
CLUSTER_FUNCTIONS = frozenset({STREAM_FN, "Resync", TIMER_FN, LAUNCHER_FN})

# Optio's own keys (chalicelib.settings.ServerKey): each a Secrets Manager secret that a function
# reads at run time, named by `<variable>_ARN` in its environment; the value is never there.
API_TOKEN, RUN_TOKEN_KEY, SECRETS_KEY = "OPTIO_API_TOKEN", "OPTIO_RUN_TOKEN_SECRET", "OPTIO_SECRETS_KEY"
# The one-time token that makes the first administrator (services.setup): only the API reads it.
SETUP_TOKEN = "OPTIO_SETUP_TOKEN"
# The keys each function reads, as the code has them (tests/infra checks the roles against it).
# The API checks admin tokens (services.apikeys), runner tokens, session links and page cursors
# (the run-token key), and stores and reads secrets. The reconciler (stream, resync, timers'
# wake-ups) signs each attempt's runner token, seals the agent's secrets for the launcher's event
# and reads GITHUB_TOKEN and the trackers' keys; the ticket sync reads those keys. The launcher
# unseals the agent's secrets from its event to write the attempt's Kubernetes Secret: it holds the
# secrets key because the alternative, plaintext in the event, would sit in Lambda's queue of
# asynchronous events. The trigger tick only writes rows.
KEYS_READ: dict[str, frozenset[str]] = {
    API_HANDLER: frozenset({API_TOKEN, RUN_TOKEN_KEY, SECRETS_KEY, SETUP_TOKEN}),
    STREAM_FN: frozenset({RUN_TOKEN_KEY, SECRETS_KEY}),
    "Resync": frozenset({RUN_TOKEN_KEY, SECRETS_KEY}),
    TIMER_FN: frozenset({RUN_TOKEN_KEY, SECRETS_KEY}),
    "TicketSync": frozenset({SECRETS_KEY}),
    "TriggerTick": frozenset(),
    LAUNCHER_FN: frozenset({SECRETS_KEY}),
    LOG_STREAM_FN: frozenset(),
    # $connect checks a token as the API does (admin tokens) and the live tickets (the run-token key).
    "WebsocketConnect": frozenset({API_TOKEN, RUN_TOKEN_KEY}),
    "WebsocketMessage": frozenset(),
    "WebsocketDisconnect": frozenset(),
}

# The agents' namespace's default NetworkPolicy: every pod there (agents, the watcher) may resolve
# names with the cluster's DNS and open HTTPS connections to the internet (Optio's API, GitHub, the
# model providers), and nothing else: no ingress, no metadata service (link-local), no private
# address (the VPC, its nodes and pods, the cluster's service range, a private endpoint's or a
# peered network's), no carrier-grade NAT range (secondary pod CIDRs). Except the pods of an attempt
# with a network of its own (labelled NETWORK_LABEL): policies only add up, so were the default to
# select them too, "none" would still reach the internet; their attempt's policy is theirs alone.
NETWORK_POLICY = "optio-isolated"
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")


def network_policy_spec() -> dict[str, Any]:
    dns = [{"protocol": protocol, "port": 53} for protocol in ("UDP", "TCP")]
    return {
        "podSelector": {"matchExpressions": [{"key": NETWORK_LABEL, "operator": "DoesNotExist"}]},
        "policyTypes": ["Ingress", "Egress"],
        "egress": [
            {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                     "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}], "ports": dns},
            {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(PRIVATE_RANGES)}}],
             "ports": [{"protocol": "TCP", "port": 443}]},
        ],
    }


# The watcher's liveness (infra/watcher_entrypoint.py): a file touched after every poll, in a
# memory volume (the root filesystem is read-only). Stale past three intervals (30 s each) and
# GitHub's longest rate-limit wait (an hour, which the watcher sleeps out), it is stuck.
WATCHER_HEARTBEAT_DIR = "/run/optio"
WATCHER_HEARTBEAT = f"{WATCHER_HEARTBEAT_DIR}/polled"
WATCHER_STALE_S = 3 * 30 + 3600
NODE_DISK_GB = 50

# What API Gateway answers itself, before any function runs, in our error shape (chalicelib.api.http
# error_body): a route or method the API does not have (its "Missing Authentication Token" 403 for
# a REST API) is a 404; every other 4xx and 5xx keeps its status, its message ours to read.
GATEWAY_RESPONSES = {
    "MISSING_AUTHENTICATION_TOKEN": ("404", '{"error": "not found: no route $context.httpMethod $context.path"}'),
    "DEFAULT_4XX": (None, '{"error": $context.error.messageString}'),
    "DEFAULT_5XX": (None, '{"error": $context.error.messageString}'),
}

# The API's edge (README "Security"). The routes anyone may call without a token: their callers
# are other services (webhooks) or people not signed in yet. WAF sees the path as sent: with the
# stage (`/api/api/hooks/...`, the execute-api URL) or without (a custom domain at its root).
PUBLIC_ROUTES = ("/api/hooks/", "/api/webhooks/", "/api/auth/", "/api/setup/")
PUBLIC_ROUTE_PATTERN = "^(/api)?/api/(hooks|webhooks|auth|setup)/"
# The AWS managed rule groups, and the rules of them that only count: Optio's request bodies are
# issue text, code, diffs and agents' output by design (webhook payloads of up to 25 MB, the
# runner's log batches), which the common set's body rules (size over 8 KB, script tags, paths,
# URLs) would block. Their matches are counted (the WAF's logs and metrics show them); the rules
# on the URI, the query string, headers and cookies block.
MANAGED_RULE_GROUPS = {
    "AWSManagedRulesCommonRuleSet": ("SizeRestrictions_BODY", "CrossSiteScripting_BODY", "GenericLFI_BODY",
                                     "GenericRFI_BODY", "EC2MetaDataSSRF_BODY"),
    "AWSManagedRulesKnownBadInputsRuleSet": (),
}
# The access log line, one JSON object a request ($context variables of API Gateway).
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId", "ip": "$context.identity.sourceIp", "time": "$context.requestTime",
    "method": "$context.httpMethod", "path": "$context.path", "resourcePath": "$context.resourcePath",
    "status": "$context.status", "protocol": "$context.protocol", "responseLength": "$context.responseLength",
    "latencyMs": "$context.responseLatency", "integrationLatencyMs": "$context.integrationLatency",
    "userAgent": "$context.identity.userAgent", "wafStatus": "$context.waf.status",
    "error": "$context.error.message",
}
# The functions that hold a share of the account's concurrency (reserved concurrency: guaranteed to
# them, and the most they take), so that none starves the others: the API (a flood on the public
# routes, past the throttle, cannot take the account's concurrency from the engine, and the
# dashboard and the runners' reports are always answered; at the stage's 50 requests a second and
# well under a second each, 50 is room to spare); the stream function (the reconciler: a throttled
# stream falls behind, every task waits); the launcher (a dispatch launches many attempts at
# once, and a throttled launch waits, then ages out); the resync (never beside itself).
RESERVED_CONCURRENCY = {API_HANDLER: 50, STREAM_FN: 10, LAUNCHER_FN: 10, "Resync": 1}
# The launcher's asynchronous events (AWS::Lambda::EventInvokeConfig): kept no longer than the
# engine waits for a launch (chalicelib.launch.lambda_async.LAUNCH_GRACE), so no launch arrives for
# an attempt the reconciler has already given up on; two retries (about a minute, then two) fit in
# it. An event that fails them all, or ages out, goes to the timer function (its on-failure
# destination), which fails the attempt as `launch_failed` (chalicelib.engine.launching).
LAUNCH_EVENT_MAX_AGE_S = 240
LAUNCH_EVENT_RETRIES = 2


@dataclass(frozen=True)
class EdgeConfig:
    """The API's edge (`-c apiRateLimit=`, `-c apiBurstLimit=`, `-c publicRateLimit=`,
    `-c reservedConcurrency=false`)."""
    rate_limit: float = 50  # requests a second, steady, the whole stage
    burst_limit: int = 100  # requests at once
    public_rate_limit: int = 300  # requests per source IP per 5 minutes on PUBLIC_ROUTES
    # Off for an account whose concurrency limit is still a new account's 10: Lambda keeps 100
    # unreserved, so any reservation fails the deploy there.
    reserved_concurrency: bool = True

    @classmethod
    def from_context(cls, ctx: Callable[[str], Any]) -> EdgeConfig:
        return cls(rate_limit=float(ctx("apiRateLimit") or cls.rate_limit),
                   burst_limit=int(ctx("apiBurstLimit") or cls.burst_limit),
                   public_rate_limit=int(ctx("publicRateLimit") or cls.public_rate_limit),
                   reserved_concurrency=str(ctx("reservedConcurrency") or "true").lower() not in ("false", "0", "no"))


# The construct id of CDK's singleton AwsCustomResource provider function ("AWS" + its fixed UUID).
AWS_CUSTOM_RESOURCE_PROVIDER = "AWS679f53fac002430cb0da5b7982bd2287"

# What a caller of a service that encrypts with the stack's key asks of the key through that
# service: data keys to write, Decrypt to read. Never Key.grant_encrypt_decrypt's ReEncrypt* and
# GenerateDataKey* wildcards (cdk-nag IAM5), which no caller here needs. Each grant names the
# service (kms:ViaService) and the resource in the encryption context the service documents.
KEY_USE = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
STREAM_READ = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
               "dynamodb:ListStreams"]
# The API presigns the runner's PUT and GET of a session archive: a presigned request carries the
# signer's permissions. ListBucket makes a missing session a 404 rather than a 403 (HeadObject).
SESSION_OBJECT_ACTIONS = ["s3:PutObject", "s3:GetObject"]
SESSION_BUCKET_ACTIONS = ["s3:ListBucket"]
SESSION_EXPIRY_DAYS = 30
# What Claude Code calls on Bedrock (a streamed conversation, and single requests).
BEDROCK_INVOKE = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
# Cross-region inference profiles are named <geography>.<model id>; they route to the model in
# several regions, each of which must be allowed.
_INFERENCE_PROFILE = re.compile(r"^(us|eu|apac|us-gov|jp|au|ca|global)\.(.+)$")


@dataclass(frozen=True)
class ClusterConfig:
    """An existing EKS cluster the agents run on (`aws eks describe-cluster` gives every value)."""
    name: str
    endpoint: str
    ca_data: str
    oidc_issuer: str  # without https://
    kubectl_role_arn: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    vpc_id: str = ""

    @property
    def private(self) -> bool:
        return bool(self.subnet_ids)

    @classmethod
    def from_context(cls, ctx: Callable[[str], Any]) -> ClusterConfig | None:
        """The cluster named by `-c clusterName=...`, or None: the stack creates one of its own."""
        def split(value: Any) -> tuple[str, ...]:
            return tuple(v for v in str(value or "").split(",") if v)

        if not ctx("clusterName"):
            return None
        missing = [k for k in ("clusterEndpoint", "clusterCaData", "oidcIssuer", "kubectlRoleArn") if not ctx(k)]
        if ctx("subnetIds") and not ctx("vpcId"):
            missing.append("vpcId")
        if missing:
            raise ValueError(f"clusterName is given, so these are needed too (make deploy fills them): {missing}")
        return cls(
            name=str(ctx("clusterName")),
            endpoint=str(ctx("clusterEndpoint")),
            ca_data=str(ctx("clusterCaData")),
            oidc_issuer=str(ctx("oidcIssuer")).removeprefix("https://"),
            kubectl_role_arn=str(ctx("kubectlRoleArn")),
            subnet_ids=split(ctx("subnetIds")),
            security_group_ids=split(ctx("securityGroupIds")),
            vpc_id=str(ctx("vpcId") or ""),
        )


_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Images:
    """The runner's and the watcher's images. By digest (`repo@sha256:...`) when infra/deploy.sh
    resolved the pushed tag's (-c runnerImageDigest, -c watcherImageDigest): a pod runs exactly
    the image that was pushed, whatever a tag says. Without (a synth for the tests, the first deploy
    of a stage, before its repositories hold an image) by the tag, in repositories of immutable tags."""
    tag: str = "latest"
    runner_digest: str = ""
    watcher_digest: str = ""

    @classmethod
    def from_context(cls, ctx: Callable[[str], Any]) -> Images:
        images = cls(tag=str(ctx("imageTag") or cls.tag), runner_digest=str(ctx("runnerImageDigest") or ""),
                     watcher_digest=str(ctx("watcherImageDigest") or ""))
        for name, digest in (("runnerImageDigest", images.runner_digest), ("watcherImageDigest", images.watcher_digest)):
            if digest and not _DIGEST.match(digest):
                raise ValueError(f"{name} is not an image digest (sha256:<64 hex digits>): {digest!r}")
        return images

    @staticmethod
    def reference(repository_uri: str, tag: str, digest: str) -> str:
        return f"{repository_uri}@{digest}" if digest else f"{repository_uri}:{tag}"

    def runner(self, repository_uri: str) -> str:
        return self.reference(repository_uri, self.tag, self.runner_digest)

    def watcher(self, repository_uri: str) -> str:
        return self.reference(repository_uri, self.tag, self.watcher_digest)


@dataclass(frozen=True)
class NodeConfig:
    """The managed node group of a cluster the stack creates."""
    instance_type: str = "t3.large"
    min_size: int = 1
    max_size: int = 3

    @classmethod
    def from_context(cls, ctx: Callable[[str], Any]) -> NodeConfig:
        return cls(instance_type=str(ctx("nodeInstanceType") or cls.instance_type),
                   min_size=int(ctx("nodeMinSize") or cls.min_size),
                   max_size=int(ctx("nodeMaxSize") or cls.max_size))


@dataclass
class ClusterHandle:
    """What the functions and the manifests need of the cluster, created or imported."""
    cluster: eks.ICluster  # an eks.Cluster when the stack creates it
    name: str
    endpoint: str
    ca_data: str
    oidc_issuer: str
    provider: iam.IOpenIdConnectProvider


def _kebab(name: str) -> str:
    """ExecutionStream -> execution-stream, APIHandler -> api-handler."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", name).lower()


class SlimChalice(Chalice):
    """`chalice package`'s zip slimmed for cold starts (packaging.slim_app_package) before CDK
    stages it as an asset."""

    def _package_app(self) -> None:
        super()._package_app()
        packaging.slim_app_package(os.path.join(self._sam_package_dir, "deployment.zip"))


@jsii.implements(cdk.IAspect)
class LogRetention:
    """Every plain Lambda function (CDK's own providers, in nested stacks too) logs to a log group
    of its own with a retention, like the app's functions."""

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, cdk.CfnResource) or node.cfn_resource_type != "AWS::Lambda::Function":
            return
        if isinstance(node, lambda_.CfnFunction):
            needs_group = not getattr(node.logging_config, "log_group", None)
        else:  # custom resource providers' handlers are plain CfnResources of the same type
            needs_group = not isinstance(node.node.scope, Chalice)
        scope = node.node.scope
        if needs_group and isinstance(scope, Construct):
            group = logs.CfnLogGroup(scope, f"{node.node.id}LogGroup", retention_in_days=LOG_RETENTION_DAYS)
            group.apply_removal_policy(cdk.RemovalPolicy.DESTROY)
            node.add_property_override("LoggingConfig.LogGroup", group.ref)


@jsii.implements(cdk.IAspect)
class CdkOwnSkips:
    """checkov's findings on CDK's own machinery, skipped with the reason: the custom resource
    providers (EKS's in nested stacks, the OIDC provider's, the bucket's auto-delete, the SDK calls'
    AwsCustomResource provider, CDK's utilities),
    their log groups and the cluster's creation role are CDK's, not configurable from here."""

    CHECKS = ("CKV_AWS_109", "CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_158", "CKV_AWS_173")
    REASON = "CDK's own custom resource provider or role (not configurable from here)"

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, cdk.CfnResource):
            return
        path = node.node.path
        if cdk.Stack.of(node).nested or any(part.startswith(("Custom::", "AWSCDK", AWS_CUSTOM_RESOURCE_PROVIDER))
                                            for part in path.split("/")) \
                or "/Cluster/Resource/CreationRole/" in path:
            node.add_metadata("checkov", {"skip": [{"id": c, "comment": self.REASON} for c in self.CHECKS]})


class OptioStack(cdk.Stack):
    def __init__(self, scope: Construct, stage: str, *, cluster: ClusterConfig | None, images: Images,
                 nodes: NodeConfig | None = None, admin_principal: str = "",
                 session_expiry_days: int = SESSION_EXPIRY_DAYS, bedrock_models: tuple[str, ...] = (),
                 architecture: str = "arm64", domain_name: str = "", certificate_arn: str = "",
                 sign_in: SignInConfig | None = None, edge: EdgeConfig | None = None, alarm_email: str = "",
                 **kwargs: Any) -> None:
        super().__init__(scope, stage, **kwargs)
        self.admin_principal = admin_principal
        self.bedrock_models = bedrock_models
        self.stage = stage
        prefix = f"optio-{stage}-"
        prod = stage == "prod"
        # What a destroy leaves behind: in prod the data (KEPT_IN_PROD: the tables, the secrets, the
        # sessions bucket and the key that encrypts them, the user pool); nothing else anywhere, so that the destroy
        # finishes (a retained cluster, node group or role would stop the VPC's deletion) and the
        # next deploy does not collide with what it left (repositories, log groups, the key's alias).
        removal = cdk.RemovalPolicy.RETAIN if prod else cdk.RemovalPolicy.DESTROY

        self.key = kms.Key(self, "Key", alias=f"alias/optio-{stage}", enable_key_rotation=True,
                           description=f"Optio {stage}: tables, secrets, queues, logs", removal_policy=removal)
        # CloudWatch Logs encrypts this account's log groups in this region with it, and nothing
        # else: the context CloudWatch Logs documents names the log group.
        self.key.add_to_resource_policy(iam.PolicyStatement(
            principals=[iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com")],
            actions=["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
            resources=["*"],
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": self.format_arn(
                service="logs", resource="log-group", resource_name="*",
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)}},
        ))

        # --- Tables: exactly the keys, indexes and stream of chalicelib.store.tables.table_definitions()
        self.tables: dict[str, ddb.CfnTable] = {}
        for spec in table_specs(prefix):
            self.tables[spec.short_name] = self._table(spec, removal)
        # What each function's code (and the watcher's) can reach of them, read from the code.
        self.access = function_access()
        executions = self.tables["executions"]

        # --- Optio's keys, generated once, encrypted with the key, read by the functions at run time
        # (KEYS_READ). Each holds one key as generated, or a JSON array of keys, newest first, once
        # rotated (README "Rotating keys").
        self.secrets = {
            API_TOKEN: self._secret("ApiToken", f"optio/{stage}/api-token", 48, removal),
            RUN_TOKEN_KEY: self._secret("RunTokenSecret", f"optio/{stage}/run-token-secret", 64, removal),
            # A Fernet key is 32 bytes, urlsafe base64: 43 characters and "=" (chalicelib.store.secrets
            # pads it). It decrypts the secrets table's values: kept with the tables.
            SECRETS_KEY: self._secret("SecretsKey", f"optio/{stage}/secrets-key", 43, removal),
            SETUP_TOKEN: self._secret("SetupToken", f"optio/{stage}/setup-token", 48, removal),
        }

        self.failures = sqs.Queue(self, "StreamFailures", queue_name=f"optio-{stage}-stream-failures",
                                  encryption=sqs.QueueEncryption.KMS, encryption_master_key=self.key,
                                  retention_period=cdk.Duration.days(14), enforce_ssl=True)

        # --- Agent sessions kept between attempts (chalicelib.store.sessions): only the API reads and
        # writes them; the runner moves the bytes through the URLs it presigns.
        self.sessions = s3.Bucket(
            self, "Sessions", encryption=s3.BucketEncryption.KMS, encryption_key=self.key, bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL, enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(id="expire-sessions", expiration=cdk.Duration.days(session_expiry_days),
                                              abort_incomplete_multipart_upload_after=cdk.Duration.days(1))],
            removal_policy=removal, auto_delete_objects=not prod)

        # Images are rebuilt from the checkout: the repositories go, with their images, in every stage.
        self.runner_repo = self._repository("RunnerRepository", f"optio-{stage}-runner")
        self.watcher_repo = self._repository("WatcherRepository", f"optio-{stage}-watcher")

        # --- EKS: the cluster given by name, or one of the stack's own with a managed node group,
        # deleted with the stack in every stage (it holds no data: the tables do).
        self.eks = (self._import_cluster(cluster) if cluster
                    else self._create_cluster(nodes or NodeConfig()))
        self._control_plane_logs()

        # --- The Chalice app, packaged without the kubernetes client; that is a layer of its own.
        source = packaging.chalice_source(stage)
        self.chalice = SlimChalice(self, "App", source_dir=source, stage_config={
            "manage_iam_role": False,
            # Replaced per function below by that function's own role.
            "iam_role_arn": f"arn:aws:iam::{self.account}:role/optio-placeholder",
            "xray": True,
            # Graviton: 20% less per GB-second than x86_64; chalice packages the wheels built for it.
            "lambda_architecture": architecture,
        })
        sam = packaging.sam_template(self.chalice)
        # Every function of the app, whatever app.py declares: the API, the stream function, each
        # schedule, the launcher.
        self.kinds: dict[str, str] = {}
        for logical_id, resource in sam["Resources"].items():
            if resource["Type"] == "AWS::Serverless::Function":
                event_types = {e["Type"] for e in (resource["Properties"].get("Events") or {}).values()}
                self.kinds[logical_id] = (
                    "api" if logical_id == API_HANDLER else "stream" if "DynamoDB" in event_types
                    else "schedule" if "Schedule" in event_types else "launcher" if logical_id == LAUNCHER_FN
                    else "timer" if logical_id == TIMER_FN else "websocket" if logical_id in WEBSOCKET_FNS
                    else "other")
        self.stream_events = {name: event for name, r in sam["Resources"].items()
                              for event, e in (r["Properties"].get("Events") or {}).items()
                              if r["Type"] == "AWS::Serverless::Function" and e["Type"] == "DynamoDB"}
        assert sorted(self.stream_events) == [STREAM_FN, LOG_STREAM_FN], self.stream_events
        self.roles = {name: self._role(name) for name in self.kinds}
        roles = self.roles
        self.k8s_layer = lambda_.LayerVersion(
            # Without the build's stamps (.pins, .constraints.txt: the venv's versions), which are no
            # part of the layer and would republish it whenever a dev dependency changes.
            self, "KubernetesClient", code=lambda_.Code.from_asset(packaging.kubernetes_layer(architecture),
                                                                    exclude=list(packaging.LAYER_STAMPS)),
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_11],
            compatible_architectures=[lambda_.Architecture.ARM_64 if architecture == "arm64"
                                      else lambda_.Architecture.X86_64],
            description="The kubernetes client for the functions that talk to the cluster",
        )
        self.functions = {name: self.chalice.get_resource(name) for name in self.kinds}
        launcher_name = self._function_name(LAUNCHER_FN)
        api_url = cdk.Fn.sub("https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api",
                             {"Api": self.chalice.get_resource("RestAPI").ref})
        # Named, not referenced: the timer function's environment holds it, and the state machine
        # invokes that function (a reference each way would be a cycle).
        timers_name = f"optio-{stage}-timers"
        timers_arn = self.format_arn(service="states", resource="stateMachine", resource_name=timers_name,
                                     arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)
        if domain_name:
            api_url = self._custom_domain(domain_name, certificate_arn)
        websocket_api = self.chalice.get_resource("WebsocketAPI").ref
        live_url = cdk.Fn.sub("wss://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/" + WEBSOCKET_STAGE,
                              {"Api": websocket_api})
        self.log_groups: dict[str, logs.LogGroup] = {}
        for name, fn in self.functions.items():
            fn.add_property_override("FunctionName", self._function_name(name))
            fn.add_property_override("Role", roles[name].role_arn)
            fn.add_property_override("KmsKeyArn", self.key.key_arn)
            group = logs.LogGroup(self, f"{name}Logs", retention=LOG_RETENTION, encryption_key=self.key,
                                  removal_policy=cdk.RemovalPolicy.DESTROY)
            self.log_groups[name] = group
            fn.add_property_override("LoggingConfig", {"LogGroup": group.log_group_name, "LogFormat": "JSON"})
            group.grant_write(roles[name])
            env = {
                "OPTIO_EXECUTIONS_STREAM_ARN": executions.attr_stream_arn,
                "OPTIO_LOGS_STREAM_ARN": self.tables["execution-logs"].attr_stream_arn,
                # Where the dashboard opens its socket (the API tells it), and where senders post.
                "OPTIO_LIVE_URL": live_url,
                "OPTIO_EKS_CLUSTER_NAME": self.eks.name,
                "OPTIO_EKS_ENDPOINT": self.eks.endpoint,
                "OPTIO_EKS_CA_DATA": self.eks.ca_data,
                "OPTIO_K8S_NAMESPACE": NAMESPACE,
                "OPTIO_K8S_SERVICE_ACCOUNT": RUNNER_SERVICE_ACCOUNT,
                "OPTIO_RUNNER_IMAGE": images.runner(self.runner_repo.repository_uri),
                "OPTIO_LAUNCHER_FUNCTION": launcher_name,
                "OPTIO_LOG_LEVEL": "INFO",
            }
            # The API's own URL cannot be in the API function (a cycle); the runner's environment is
            # built by the engine in the other functions, which get it.
            if name != LAUNCHER_FN:  # whatever reconciles may set a wake-up
                env["OPTIO_TIMERS_STATE_MACHINE_ARN"] = timers_arn
            if name != API_HANDLER:
                env["OPTIO_API_URL"] = api_url
            else:
                env["OPTIO_SESSIONS_BUCKET"] = self.sessions.bucket_name
            for var in sorted(self._keys_read(name)):
                env[f"{var}_ARN"] = self.secrets[var].secret_arn
            for var, value in env.items():
                fn.add_property_override(f"Environment.Variables.{var}", value)
            if self._talks_to_cluster(name):
                fn.add_property_override("Layers", [self.k8s_layer.layer_version_arn])
        if cluster and cluster.private:
            self._in_cluster_vpc(cluster)

        self._gateway_responses()
        self._catch_all_resource()
        self._edge(edge or EdgeConfig())
        self._sign_in(sign_in or SignInConfig(), api_url, removal)
        # The stage traces requests into the functions' X-Ray traces (checkov CKV_AWS_73).
        self.chalice.get_resource("RestAPI").add_property_override("TracingEnabled", True)
        self._stream_failure_handling(executions)
        self._live(websocket_api)
        self._grants(executions, launcher_name)
        self._timers(timers_name, timers_arn, f"optio-{stage}-{_kebab(TIMER_FN)}")
        self._cluster_resources(images, prefix)
        self._operations(alarm_email)
        self._nag_acknowledgements()
        self._checkov_skips()
        # Deploy race: each function's role is set by a property override, so CloudFormation does
        # not know that the function (and so the stream's event source mapping, the schedules'
        # rules, which refer to it) needs the role's policies: without this the mapping can be
        # created before the policy that lets it read the stream ("Cannot access stream").
        # A dependency on the role is one on everything under it: its DefaultPolicy, as the grants
        # above and any added later leave it.
        for name, fn in self.functions.items():
            fn.node.add_dependency(self.roles[name])
        cdk.Aspects.of(self).add(LogRetention())
        cdk.CfnOutput(self, "ApiUrl", value=api_url)
        cdk.CfnOutput(self, "LiveUrl", value=live_url)
        cdk.CfnOutput(self, "ApiTokenSecret", value=self.secrets[API_TOKEN].secret_name)
        # Until the first administrator exists (README "People"): `POST /api/setup/admin` with it.
        cdk.CfnOutput(self, "SetupTokenSecret", value=self.secrets[SETUP_TOKEN].secret_name)
        cdk.CfnOutput(self, "RunnerRepositoryUri", value=self.runner_repo.repository_uri)
        cdk.CfnOutput(self, "WatcherRepositoryUri", value=self.watcher_repo.repository_uri)
        cdk.CfnOutput(self, "ClusterName", value=self.eks.name)

    def _custom_domain(self, domain_name: str, certificate_arn: str) -> str:
        """The API's stage on a domain of your own (a regional endpoint, the ACM certificate in the
        stack's region), mapped without a base path: the dashboard and the API are at its root,
        which the functions without a request give the runners. Its URL; the DNS name to point a
        CNAME (or a Route 53 alias) at is the ApiDomainTarget output."""
        domain = apigateway.CfnDomainName(
            self, "ApiDomain", domain_name=domain_name, regional_certificate_arn=certificate_arn,
            endpoint_configuration=apigateway.CfnDomainName.EndpointConfigurationProperty(types=["REGIONAL"]),
            security_policy="TLS_1_2")
        # `RestAPI.Stage`: SAM's name for the stage it generates, which the mapping must wait for.
        mapping = apigateway.CfnBasePathMapping(self, "ApiDomainMapping", domain_name=domain.ref,
                                                rest_api_id=self.chalice.get_resource("RestAPI").ref,
                                                stage=cdk.Fn.ref("RestAPI.Stage"))
        cdk.Validations.of(mapping).acknowledge(cdk.Acknowledgment(
            id="CloudFormation-Validate::F1020",
            reason="RestAPI.Stage is made by the SAM transform at deploy time, after this check"))
        cdk.CfnOutput(self, "ApiDomainTarget", value=domain.attr_regional_domain_name)
        return f"https://{domain_name}"

    def _sign_in(self, config: SignInConfig, api_url: str, removal: cdk.RemovalPolicy) -> None:
        """People sign in through OpenID Connect (chalicelib.services.oidc): a Cognito user pool of
        the stack's own with its hosted UI, maybe federated to the company's SAML or OIDC provider,
        or another provider given by issuer (optio_infra.sign_in). Optio's client is public: the
        authorization code flow with PKCE is its proof, so there is no client secret to keep."""
        api = self.functions[API_HANDLER]
        if not config.cognito:
            api.add_property_override("Environment.Variables.OPTIO_OIDC_ISSUER", config.issuer)
            api.add_property_override("Environment.Variables.OPTIO_OIDC_CLIENT_ID", config.client_id)
            return
        pool = cognito.UserPool(
            self, "UserPool", user_pool_name=f"optio-{self.stage}",
            # Optio invites people (POST /api/users); the pool takes no strangers either.
            self_sign_up_enabled=False, sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True), removal_policy=removal,
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            password_policy=cognito.PasswordPolicy(min_length=12, require_lowercase=True, require_uppercase=True,
                                                   require_digits=True, require_symbols=True),
            feature_plan=cognito.FeaturePlan.ESSENTIALS)
        cdk.Validations.of(pool).acknowledge(
            cdk.Acknowledgment(id="AwsSolutions-COG2", reason=(
                "MFA is the identity provider's to require: federated sign-ins bring the company's own, and "
                "a pool-only deployment can turn it on in the pool without Optio knowing")),
            cdk.Acknowledgment(id="AwsSolutions-COG8", reason=(
                "The Plus plan's threat protection is billed per monthly active user; Optio invites every "
                "user (no self sign-up), so the Essentials plan is the default and Plus an operator's choice")))
        providers = ["COGNITO"]
        federation = config.federation
        if federation is not None:
            # What Optio reads from the ID token: the email (an invited user is found by it) and the name.
            if federation.kind == "SAML":
                details: dict[str, Any] = {"MetadataURL": federation.metadata_url}
                mapping = {"email": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
                           "name": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"}
            else:
                details = {"oidc_issuer": federation.issuer, "client_id": federation.client_id,
                           "client_secret": cdk.SecretValue.secrets_manager(federation.client_secret_name).to_string(),
                           "authorize_scopes": "openid email profile", "attributes_request_method": "GET"}
                mapping = {"email": "email", "email_verified": "email_verified", "name": "name"}
            idp = cognito.CfnUserPoolIdentityProvider(
                self, "IdentityProvider", user_pool_id=pool.user_pool_id, provider_name=federation.name,
                provider_type=federation.kind, provider_details=details, attribute_mapping=mapping)
            providers = [federation.name]
        # The hosted UI at optio-<stage>-<account>.auth.<region>.amazoncognito.com.
        domain = pool.add_domain("HostedUi", cognito_domain=cognito.CognitoDomainOptions(
            domain_prefix=f"optio-{self.stage}-{self.account}"))
        client = cognito.CfnUserPoolClient(
            self, "UserPoolClient", user_pool_id=pool.user_pool_id, client_name=f"optio-{self.stage}",
            generate_secret=False, explicit_auth_flows=["ALLOW_REFRESH_TOKEN_AUTH"],
            prevent_user_existence_errors="ENABLED")
        # The client's OAuth settings name the API's callback, and the API function names the client:
        # in one resource that would be a cycle (the API refers to its function). So the client is
        # made plain, and its OAuth settings are set by an SDK call once both exist. The call gives
        # every setting (UpdateUserPoolClient resets what it is not given).
        oauth = {
            "UserPoolId": pool.user_pool_id, "ClientId": client.ref, "ClientName": f"optio-{self.stage}",
            "ExplicitAuthFlows": ["ALLOW_REFRESH_TOKEN_AUTH"], "PreventUserExistenceErrors": "ENABLED",
            "AllowedOAuthFlowsUserPoolClient": True, "AllowedOAuthFlows": ["code"],
            "AllowedOAuthScopes": ["openid", "email", "profile"], "SupportedIdentityProviders": providers,
            "CallbackURLs": [f"{api_url}/api/auth/callback"],
        }
        call = cr.AwsSdkCall(service="CognitoIdentityServiceProvider", action="updateUserPoolClient",
                             parameters=oauth, physical_resource_id=cr.PhysicalResourceId.of(client.ref))
        callback = cr.AwsCustomResource(
            self, "UserPoolClientOAuth", on_create=call, on_update=call, install_latest_aws_sdk=False,
            policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=[pool.user_pool_arn]))
        # The SDK call's provider: CDK's own singleton function, with Lambda's basic execution policy.
        provider = self.node.try_find_child(AWS_CUSTOM_RESOURCE_PROVIDER)
        if provider is not None:
            cdk.Validations.of(provider).acknowledge(cdk.Acknowledgment(
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                   "AWSLambdaBasicExecutionRole]",
                reason="CDK's AwsCustomResource provider (one SDK call: the client's OAuth settings) runs with "
                       "the managed policy Lambda documents for writing its logs; not configurable from here"))
        if federation is not None:
            callback.node.add_dependency(idp)
            # The company's provider is the pool's only one: its directory vouches for the emails an
            # invited user is found by (Cognito sends no `email_verified` for a SAML user).
            api.add_property_override("Environment.Variables.OPTIO_OIDC_EMAIL_PROVIDERS", federation.name)
        issuer = cdk.Fn.sub("https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}/${Pool}",
                            {"Pool": pool.user_pool_id})
        api.add_property_override("Environment.Variables.OPTIO_OIDC_ISSUER", issuer)
        api.add_property_override("Environment.Variables.OPTIO_OIDC_CLIENT_ID", client.ref)
        cdk.CfnOutput(self, "UserPoolId", value=pool.user_pool_id)
        cdk.CfnOutput(self, "SignInUrl", value=domain.base_url())

    # ------------------------------------------------------------------ building blocks
    def _keys_read(self, name: str) -> frozenset[str]:
        if name not in KEYS_READ:
            raise ValueError(f"the function {name} is new: say in KEYS_READ which of Optio's keys it reads")
        return KEYS_READ[name]

    def _talks_to_cluster(self, name: str) -> bool:
        return name in CLUSTER_FUNCTIONS

    def _in_cluster_vpc(self, cluster: ClusterConfig) -> None:
        """A private endpoint is reached from the cluster's subnets only: every function that talks
        to the cluster runs there. No VPC endpoints: these functions call GitHub too (the reconciler
        merges pull requests and closes issues, the API lists and assigns GitHub issues), which only a NAT
        reaches, and the VPC is not the stack's (a second interface endpoint with private DNS for a
        service the VPC already has one for fails). README "Deploy to AWS": the subnets need a NAT."""
        for name in filter(self._talks_to_cluster, self.functions):
            self.functions[name].add_property_override("VpcConfig", {
                "SubnetIds": list(cluster.subnet_ids), "SecurityGroupIds": list(cluster.security_group_ids)})
            self.roles[name].add_managed_policy(
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSLambdaVPCAccessExecutionRole"))
            cdk.Validations.of(self.roles[name]).acknowledge(cdk.Acknowledgment(
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                   "AWSLambdaVPCAccessExecutionRole]",
                reason="What Lambda documents for a function in a VPC: its network interfaces, whose "
                       "EC2 actions take no resource"))

    def _table(self, spec: TableSpec, removal: cdk.RemovalPolicy) -> ddb.CfnTable:
        table = ddb.CfnTable(
            self, f"Table{spec.construct_id}",
            table_name=spec.table_name,
            billing_mode="PAY_PER_REQUEST",
            attribute_definitions=[ddb.CfnTable.AttributeDefinitionProperty(**a) for a in spec.attributes],
            key_schema=[ddb.CfnTable.KeySchemaProperty(**k) for k in spec.key_schema],
            global_secondary_indexes=[
                ddb.CfnTable.GlobalSecondaryIndexProperty(
                    index_name=g["index_name"],
                    key_schema=[ddb.CfnTable.KeySchemaProperty(**k) for k in g["key_schema"]],
                    projection=ddb.CfnTable.ProjectionProperty(**g["projection"]),
                ) for g in spec.global_indexes
            ] or None,
            point_in_time_recovery_specification=ddb.CfnTable.PointInTimeRecoverySpecificationProperty(
                point_in_time_recovery_enabled=True),
            sse_specification=ddb.CfnTable.SSESpecificationProperty(
                sse_enabled=True, sse_type="KMS", kms_master_key_id=self.key.key_arn),
            stream_specification=ddb.CfnTable.StreamSpecificationProperty(
                stream_view_type=spec.stream_view_type) if spec.stream_view_type else None,
            time_to_live_specification=ddb.CfnTable.TimeToLiveSpecificationProperty(
                attribute_name=spec.ttl_attribute, enabled=True) if spec.ttl_attribute else None,
            deletion_protection_enabled=removal == cdk.RemovalPolicy.RETAIN,
        )
        table.apply_removal_policy(removal)
        return table

    def _secret(self, construct_id: str, name: str, length: int, removal: cdk.RemovalPolicy) -> sm.Secret:
        return sm.Secret(self, construct_id, secret_name=name, encryption_key=self.key, removal_policy=removal,
                         generate_secret_string=sm.SecretStringGenerator(
                             password_length=length, exclude_punctuation=True, include_space=False))

    def _repository(self, construct_id: str, name: str) -> ecr.Repository:
        return ecr.Repository(
            self, construct_id, repository_name=name, image_scan_on_push=True,
            encryption=ecr.RepositoryEncryption.KMS, encryption_key=self.key,
            # A tag is pushed once (infra/deploy.sh pushes a commit's tag when it is missing): a
            # pushed image is never replaced under a running Deployment or Job.
            image_tag_mutability=ecr.TagMutability.IMMUTABLE, removal_policy=cdk.RemovalPolicy.DESTROY,
            empty_on_delete=True,
            lifecycle_rules=[ecr.LifecycleRule(max_image_count=30)],
        )

    def _role(self, name: str) -> iam.Role:
        role = iam.Role(self, f"{name}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description=f"Optio {self.stage}: the {name} function")
        role.add_to_policy(iam.PolicyStatement(
            actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"]))
        return role

    def _function_name(self, name: str) -> str:
        return f"optio-{self.stage}-launcher" if name == LAUNCHER_FN else f"optio-{self.stage}-{_kebab(name)}"

    def _access(self, name: str) -> Access:
        if name not in self.access:
            raise ValueError(f"the function {name} has no handler in app.py that optio_infra.access reads")
        return self.access[name]

    def _grant_tables(self, role: iam.Role, access: Access) -> None:
        """The tables and indexes the code reaches (optio_infra.access), each by name: no `index/*`
        wildcard (cdk-nag IAM5), and with the table's key through DynamoDB for those tables only."""
        if not access.tables:
            return
        tables = [self.tables[t] for t in sorted(access.tables)]
        role.add_to_policy(iam.PolicyStatement(actions=sorted(access.actions),
                                               resources=[t.attr_arn for t in tables]))
        if access.indexes and access.index_actions:
            role.add_to_policy(iam.PolicyStatement(
                actions=sorted(access.index_actions),
                resources=[f"{self.tables[t].attr_arn}/index/{i}" for t, i in sorted(access.indexes)]))
        self._grant_key(role, "dynamodb", KEY_USE, {
            "kms:EncryptionContext:aws:dynamodb:tableName": [t.ref for t in tables],
            "kms:EncryptionContext:aws:dynamodb:subscriberId": self.account})
        # DescribeKey carries no encryption context: DynamoDB calls it for the table's key.
        self._grant_key(role, "dynamodb", ["kms:DescribeKey"], {})

    def _grant_key(self, role: iam.Role, service: str, actions: list[str], context: dict[str, Any]) -> None:
        """Use of the stack's key only through `service` (kms:ViaService) and only for the
        resources its encryption context names."""
        role.add_to_policy(iam.PolicyStatement(
            actions=actions, resources=[self.key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"{service}.{self.region}.amazonaws.com", **context}}))

    def _grant_secrets(self, role: iam.Role, names: list[str]) -> None:
        """GetSecretValue of Optio's keys by name, and their decryption (Secrets Manager's context
        is the secret's ARN)."""
        arns = [self.secrets[var].secret_arn for var in sorted(names)]
        role.add_to_policy(iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=arns))
        self._grant_key(role, "secretsmanager", ["kms:Decrypt"], {"kms:EncryptionContext:SecretARN": arns})

    def _grants(self, executions: ddb.CfnTable, launcher_name: str) -> None:
        launcher_arn = self.format_arn(service="lambda", resource="function", resource_name=launcher_name,
                                       arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)
        for name, role in self.roles.items():
            self._grant_tables(role, self._access(name))
            if name != LAUNCHER_FN:  # whatever reconciles may hand a launch to the launcher
                role.add_to_policy(iam.PolicyStatement(actions=["lambda:InvokeFunction"],
                                                       resources=[launcher_arn]))
            if self._keys_read(name):
                self._grant_secrets(role, sorted(self._keys_read(name)))
            # Its environment, encrypted with the key (KmsKeyArn): Lambda's context names the function.
            function_arn = self.format_arn(service="lambda", resource="function",
                                           resource_name=self._function_name(name),
                                           arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)
            self._grant_key(role, "lambda", ["kms:Decrypt"], {"kms:EncryptionContext:aws:lambda:FunctionArn": function_arn})
        self.roles[STREAM_FN].add_to_policy(iam.PolicyStatement(actions=STREAM_READ,
                                                               resources=[executions.attr_stream_arn]))
        api = self.roles[API_HANDLER]
        api.add_to_policy(iam.PolicyStatement(actions=SESSION_OBJECT_ACTIONS,
                                              resources=[self.sessions.arn_for_objects("*")]))
        api.add_to_policy(iam.PolicyStatement(actions=SESSION_BUCKET_ACTIONS, resources=[self.sessions.bucket_arn]))
        # SSE-KMS with a bucket key: S3's context is the bucket's ARN.
        self._grant_key(api, "s3", ["kms:Decrypt", "kms:GenerateDataKey"],
                        {"kms:EncryptionContext:aws:s3:arn": self.sessions.bucket_arn})
        # Queue.grant_send_messages would add the key's ReEncrypt* and GenerateDataKey* (cdk-nag IAM5).
        stream = self.roles[STREAM_FN]
        stream.add_to_policy(iam.PolicyStatement(
            actions=["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
            resources=[self.failures.queue_arn]))
        self._grant_key(stream, "sqs", ["kms:Decrypt", "kms:GenerateDataKey"],
                        {"kms:EncryptionContext:aws:sqs:arn": self.failures.queue_arn})

    def _gateway_responses(self) -> None:
        api = self.chalice.get_resource("RestAPI").ref
        for kind, (status, template) in GATEWAY_RESPONSES.items():
            apigateway.CfnGatewayResponse(
                self, f"GatewayResponse{kind.title().replace('_', '')}", rest_api_id=api, response_type=kind,
                status_code=status, response_templates={"application/json": template},
                response_parameters={"gatewayresponse.header.Content-Type": "'application/json'"})

    def _catch_all_resource(self) -> None:
        """The greedy resource the app's catch-all route gives the REST API (chalicelib.api.dashboard
        CATCH_ALL: an unknown page is the dashboard's own 404, an unknown `/api/...` route its JSON
        404), with its path parameter declared, as API Gateway's OpenAPI import has every path
        template's (`chalice package` declares only the parameters a view takes)."""
        self.chalice.get_resource("RestAPI").add_property_override(
            f"DefinitionBody.paths.{CATCH_ALL}.get.parameters",
            [{"name": "proxy", "in": "path", "required": True, "type": "string"}])

    # ------------------------------------------------------------------ the edge
    def _edge(self, edge: EdgeConfig) -> None:
        """What stands before the API function: the stage's throttle, a WAF web ACL (a rate limit per
        source IP on the public routes, AWS's managed rule groups), JSON access logs; and the
        functions' reserved concurrency (RESERVED_CONCURRENCY)."""
        api = self.chalice.get_resource("RestAPI")
        # Named for its metrics (AWS/ApiGateway's ApiName dimension): SAM names it after the stack otherwise.
        api.add_property_override("Name", f"optio-{self.stage}")
        api.add_property_override("MethodSettings", [{
            "ResourcePath": "/*", "HttpMethod": "*",
            "ThrottlingRateLimit": edge.rate_limit, "ThrottlingBurstLimit": edge.burst_limit}])
        self.access_logs = logs.LogGroup(self, "ApiAccessLogs", retention=LOG_RETENTION, encryption_key=self.key,
                                         removal_policy=cdk.RemovalPolicy.DESTROY)
        api.add_property_override("AccessLogSetting", {
            "DestinationArn": self.access_logs.log_group_arn,
            "Format": json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":"))})
        self._api_gateway_logging_role()

        def visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True)

        public = wafv2.CfnWebACL.StatementProperty(regex_match_statement=wafv2.CfnWebACL.RegexMatchStatementProperty(
            regex_string=PUBLIC_ROUTE_PATTERN, field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
            text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")]))
        rules = [wafv2.CfnWebACL.RuleProperty(
            name="public-routes-rate", priority=0, action=wafv2.CfnWebACL.RuleActionProperty(block={}),
            visibility_config=visibility(f"optio-{self.stage}-public-routes-rate"),
            statement=wafv2.CfnWebACL.StatementProperty(rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                limit=edge.public_rate_limit, aggregate_key_type="IP", evaluation_window_sec=300,
                scope_down_statement=public)))]
        for priority, (group, counted) in enumerate(MANAGED_RULE_GROUPS.items(), start=1):
            rules.append(wafv2.CfnWebACL.RuleProperty(
                name=group, priority=priority, override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                visibility_config=visibility(f"optio-{self.stage}-{group}"),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name=group, rule_action_overrides=[
                            wafv2.CfnWebACL.RuleActionOverrideProperty(
                                name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={}))
                            for rule in counted] or None))))
        self.web_acl = wafv2.CfnWebACL(
            self, "WebAcl", name=f"optio-{self.stage}", scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility(f"optio-{self.stage}"), rules=rules)
        stage_arn = cdk.Fn.sub("arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${Api}/stages/api",
                               {"Api": api.ref})
        association = wafv2.CfnWebACLAssociation(self, "WebAclAssociation", resource_arn=stage_arn,
                                                 web_acl_arn=self.web_acl.attr_arn)
        # The stage SAM makes of the API (RestAPI + the stage name + "Stage"): it must exist first.
        association.add_override("DependsOn", ["RestAPIapiStage"])
        # What the WAF blocked or counted, to see why a caller was refused (WAF's log groups are
        # named aws-waf-logs-*); allowed requests are in the access logs.
        waf_logs = logs.LogGroup(self, "WafLogs", log_group_name=f"aws-waf-logs-optio-{self.stage}",
                                 retention=LOG_RETENTION, encryption_key=self.key,
                                 removal_policy=cdk.RemovalPolicy.DESTROY)
        wafv2.CfnLoggingConfiguration(
            self, "WafLogging", resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[cdk.Fn.select(0, cdk.Fn.split(":*", waf_logs.log_group_arn))],
            logging_filter={"DefaultBehavior": "DROP", "Filters": [
                {"Behavior": "KEEP", "Requirement": "MEETS_ANY", "Conditions": [
                    {"ActionCondition": {"Action": action}} for action in ("BLOCK", "COUNT")]}]})
        self.reserved = RESERVED_CONCURRENCY if edge.reserved_concurrency else {}
        for name, fn in self.functions.items():
            if name in self.reserved:
                fn.add_property_override("ReservedConcurrentExecutions", self.reserved[name])
            else:
                fn.add_property_deletion_override("ReservedConcurrentExecutions")

    def _api_gateway_logging_role(self) -> None:
        """API Gateway writes a stage's access logs with the role in the account's (and region's)
        settings, one for every API: without one the stage's update fails. The stack sets it to a
        role of its own that may push to CloudWatch Logs (AWS's managed policy for it); the role and
        the setting are kept when the stack goes, as CDK's RestApi keeps them, because the other
        stage's APIs (and any other API in the account) log with the same setting."""
        role = iam.Role(self, "ApiGatewayLogsRole", assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
                        managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(
                            "service-role/AmazonAPIGatewayPushToCloudWatchLogs")])
        role.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        account = apigateway.CfnAccount(self, "ApiGatewayAccount", cloud_watch_role_arn=role.role_arn)
        account.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        self.chalice.get_resource("RestAPI").node.add_dependency(account)

    def _timers(self, name: str, arn: str, timer_function: str) -> None:
        """Wake-ups at a due time (chalicelib.engine.timers): a standard workflow per wake-up waits
        until its `dueAt` (second precision; EventBridge Scheduler fires within a minute, and an
        express workflow lives 5 minutes, less than a stall threshold), then invokes the timer
        function with its input. ~3 state transitions a wake-up."""
        function = lambda_.Function.from_function_name(self, "TimerFunction", timer_function)
        wait = sfn.Wait(self, "UntilDue", time=sfn.WaitTime.timestamp_path("$.dueAt"))
        wake = sfn_tasks.LambdaInvoke(self, "Wake", lambda_function=function, payload_response_only=True,
                                      retry_on_service_exceptions=True)
        # Every transition logged (a wake-up that did not fire is found there) and traced.
        logs_group = logs.LogGroup(self, "TimersLogs", retention=LOG_RETENTION, encryption_key=self.key,
                                   removal_policy=cdk.RemovalPolicy.DESTROY)
        self.timers = machine = sfn.StateMachine(
            self, "Timers", state_machine_name=name, state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(wait.next(wake)),
            timeout=cdk.Duration.days(1), tracing_enabled=True,
            logs=sfn.LogOptions(destination=logs_group, level=sfn.LogLevel.ALL, include_execution_data=False))
        for fn_name, role in self.roles.items():
            if fn_name != LAUNCHER_FN:
                role.add_to_policy(iam.PolicyStatement(actions=["states:StartExecution"], resources=[arn]))
        self.functions[TIMER_FN].node.add_dependency(machine)

    def _stream_failure_handling(self, executions: ddb.CfnTable) -> None:
        """What the Chalice decorator cannot say: partial batch failures, bisect, bounded retries and
        an on-failure destination for records that still fail."""
        fn = self.functions[STREAM_FN]
        base = f"Events.{self.stream_events[STREAM_FN]}.Properties"
        fn.add_property_override(f"{base}.Stream", executions.attr_stream_arn)
        fn.add_property_override(f"{base}.FunctionResponseTypes", ["ReportBatchItemFailures"])
        fn.add_property_override(f"{base}.BisectBatchOnFunctionError", True)
        fn.add_property_override(f"{base}.MaximumRetryAttempts", STREAM_MAX_RETRIES)
        fn.add_property_override(f"{base}.MaximumRecordAgeInSeconds", 3600)
        fn.add_property_override(f"{base}.DestinationConfig", {
            "OnFailure": {"Type": "SQS", "Destination": self.failures.queue_arn}})

    def _live(self, websocket_api: str) -> None:
        """The live logs: the logs stream's mapping (a line is news for a minute: few retries, no
        dead letters, the dashboard reads what it missed on reconnect), the WebSocket stage's access
        logs and throttling, and posting to the connections for the functions that send."""
        logs_table = self.tables["execution-logs"]
        fn = self.functions[LOG_STREAM_FN]
        base = f"Events.{self.stream_events[LOG_STREAM_FN]}.Properties"
        fn.add_property_override(f"{base}.Stream", logs_table.attr_stream_arn)
        fn.add_property_override(f"{base}.BisectBatchOnFunctionError", True)
        fn.add_property_override(f"{base}.MaximumRetryAttempts", 2)
        fn.add_property_override(f"{base}.MaximumRecordAgeInSeconds", LOG_STREAM_MAX_AGE_S)
        self.roles[LOG_STREAM_FN].add_to_policy(iam.PolicyStatement(actions=STREAM_READ,
                                                                    resources=[logs_table.attr_stream_arn]))
        group = logs.LogGroup(self, "WebsocketAccessLogs", retention=LOG_RETENTION, encryption_key=self.key,
                              removal_policy=cdk.RemovalPolicy.DESTROY)
        stage = cast(apigatewayv2.CfnStage, self.chalice.get_resource("WebsocketAPIStage"))
        stage.access_log_settings = apigatewayv2.CfnStage.AccessLogSettingsProperty(
            destination_arn=group.log_group_arn,
            format=json.dumps({"requestId": "$context.requestId", "ip": "$context.identity.sourceIp",
                               "eventType": "$context.eventType", "routeKey": "$context.routeKey",
                               "status": "$context.status", "connectionId": "$context.connectionId",
                               "integrationError": "$context.integrationErrorMessage"}))
        stage.default_route_settings = apigatewayv2.CfnStage.RouteSettingsProperty(
            throttling_burst_limit=500, throttling_rate_limit=100)
        connections = self.format_arn(service="execute-api", resource=websocket_api,
                                      resource_name=f"{WEBSOCKET_STAGE}/POST/@connections/*")
        for name in sorted(LIVE_SENDERS):
            self.roles[name].add_to_policy(iam.PolicyStatement(actions=["execute-api:ManageConnections"],
                                                               resources=[connections]))

    # ------------------------------------------------------------------ EKS
    def _import_cluster(self, cfg: ClusterConfig) -> ClusterHandle:
        provider = iam.OpenIdConnectProvider.from_open_id_connect_provider_arn(
            self, "Oidc", self.format_arn(service="iam", region="", resource="oidc-provider",
                                          resource_name=cfg.oidc_issuer))
        # A private endpoint: CDK's kubectl handler runs in the cluster's VPC too.
        vpc = ec2.Vpc.from_vpc_attributes(self, "Vpc", vpc_id=cfg.vpc_id, availability_zones=cdk.Fn.get_azs(),
                                          private_subnet_ids=list(cfg.subnet_ids)) if cfg.private else None
        cluster = eks.Cluster.from_cluster_attributes(
            self, "Cluster", cluster_name=cfg.name, kubectl_role_arn=cfg.kubectl_role_arn,
            kubectl_layer=KubectlV36Layer(self, "Kubectl"), open_id_connect_provider=provider,
            kubectl_private_subnet_ids=list(cfg.subnet_ids) or None,
            kubectl_security_group_id=cfg.security_group_ids[0] if cfg.security_group_ids else None,
            vpc=vpc,
        )
        return ClusterHandle(cluster, cfg.name, cfg.endpoint, cfg.ca_data, cfg.oidc_issuer, provider)

    def _create_cluster(self, nodes: NodeConfig) -> ClusterHandle:
        """A cluster of the stack's own: two AZs of public subnets (no NAT gateway to pay for while
        idle; the nodes reach GitHub and the model APIs directly), API endpoint public and private,
        Kubernetes secrets encrypted with the stack's key, access entries for the functions."""
        vpc = ec2.Vpc(self, "Vpc", max_azs=2, nat_gateways=0, subnet_configuration=[
            ec2.SubnetConfiguration(name="nodes", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=20)])
        # Rejected flows only: what an agent tried and the NetworkPolicy or a security group refused.
        flow_logs = logs.LogGroup(self, "VpcFlowLogs", retention=LOG_RETENTION, encryption_key=self.key,
                                  removal_policy=cdk.RemovalPolicy.DESTROY)
        vpc.add_flow_log("FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                         traffic_type=ec2.FlowLogTrafficType.REJECT)
        cluster = eks.Cluster(
            self, "Cluster", cluster_name=f"optio-{self.stage}", version=eks.KubernetesVersion.V1_36,
            kubectl_layer=KubectlV36Layer(self, "Kubectl"), vpc=vpc,
            vpc_subnets=[ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)],
            endpoint_access=eks.EndpointAccess.PUBLIC_AND_PRIVATE, default_capacity=0,
            authentication_mode=eks.AuthenticationMode.API_AND_CONFIG_MAP, secrets_encryption_key=self.key,
            cluster_logging=list(eks.ClusterLoggingTypes),
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        # Nodes answer the instance metadata service only with a session token (IMDSv2) and only
        # one hop away: a pod (one more hop, through its network namespace) never gets the node
        # role's credentials, even where a NetworkPolicy is not enforced. Pods that need AWS use IRSA.
        node_template = ec2.LaunchTemplate(
            self, "NodeTemplate", require_imdsv2=True, http_put_response_hop_limit=1,
            block_devices=[ec2.BlockDevice(device_name="/dev/xvda", volume=ec2.BlockDeviceVolume.ebs(
                NODE_DISK_GB, volume_type=ec2.EbsDeviceVolumeType.GP3, encrypted=True))])
        cluster.add_nodegroup_capacity(
            "Nodes", instance_types=[ec2.InstanceType(nodes.instance_type)], min_size=nodes.min_size,
            desired_size=nodes.min_size, max_size=nodes.max_size,
            launch_template_spec=eks.LaunchTemplateSpec(id=node_template.launch_template_id or "",
                                                        version=node_template.latest_version_number),
            subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            labels={"optio.dev/pool": "agents"})
        # The VPC CNI enforces NetworkPolicy (its node agent) only when asked: the agents' policy
        # (NETWORK_POLICY) is what keeps them off the metadata service and the cluster's network.
        eks.CfnAddon(self, "VpcCni", cluster_name=cluster.cluster_name, addon_name="vpc-cni",
                     resolve_conflicts="OVERWRITE",
                     configuration_values=json.dumps({"enableNetworkPolicy": "true"})).node.add_dependency(cluster)
        # jsii classes do not satisfy their interfaces' protocols for mypy.
        return ClusterHandle(cast(eks.ICluster, cluster), cluster.cluster_name, cluster.cluster_endpoint,
                             cluster.cluster_certificate_authority_data,
                             cluster.cluster_open_id_connect_issuer, cluster.open_id_connect_provider)

    def _cluster_resources(self, images: Images, prefix: str) -> None:
        handle = self.eks
        cluster = handle.cluster
        if isinstance(cluster, eks.Cluster) and self.admin_principal:
            # Whoever deploys gets kubectl on the cluster the stack created (make deploy passes the
            # caller's role): to fill the agent keys' Secret, to look at pods.
            eks.CfnAccessEntry(self, "AdminAccess", cluster_name=handle.name, principal_arn=self.admin_principal,
                               type="STANDARD", access_policies=[eks.CfnAccessEntry.AccessPolicyProperty(
                                   policy_arn=f"arn:{self.partition}:eks::aws:cluster-access-policy/"
                                              "AmazonEKSClusterAdminPolicy",
                                   access_scope=eks.CfnAccessEntry.AccessScopeProperty(type="cluster"))],
                               ).node.add_dependency(cluster)
        # Lambdas -> cluster: an access entry puts their roles in a group bound to a namespaced Role.
        for name in filter(self._talks_to_cluster, self.functions):
            entry = eks.CfnAccessEntry(self, f"{name}Access", cluster_name=handle.name,
                                       principal_arn=self.roles[name].role_arn,
                                       kubernetes_groups=[LAUNCHER_GROUP], type="STANDARD")
            if isinstance(cluster, eks.Cluster):
                entry.node.add_dependency(cluster)

        def irsa(construct_id: str, account: str) -> iam.Role:
            """A role only the given service account of the namespace can assume (the issuer is a
            token when the stack creates the cluster: the condition's keys go through CfnJson)."""
            conditions = cdk.CfnJson(self, f"{construct_id}Conditions", value={
                f"{handle.oidc_issuer}:sub": f"system:serviceaccount:{NAMESPACE}:{account}",
                f"{handle.oidc_issuer}:aud": "sts.amazonaws.com"})
            return iam.Role(self, construct_id, assumed_by=iam.FederatedPrincipal(
                handle.provider.open_id_connect_provider_arn, {"StringEquals": conditions},
                "sts:AssumeRoleWithWebIdentity"))

        self.runner_role = runner_role = irsa("RunnerRole", RUNNER_SERVICE_ACCOUNT)  # agents' AWS access (none by default)
        if self.bedrock_models:
            # Claude Code through Amazon Bedrock with the pod's role: the chosen models, nothing else.
            runner_role.add_to_policy(iam.PolicyStatement(actions=BEDROCK_INVOKE,
                                                          resources=self._bedrock_arns(self.bedrock_models)))
        watcher_role = irsa("WatcherRole", WATCHER_SERVICE_ACCOUNT)
        self._grant_tables(watcher_role, self.access[WATCHER])
        # The watcher reads the secrets key at run time (OPTIO_SECRETS_KEY_ARN, chalicelib.settings),
        # granted in the role's policy (Secret.grant_read would name the role in the key's policy: a
        # cycle through the cluster).
        self._grant_secrets(watcher_role, [SECRETS_KEY])

        labels = {"app.kubernetes.io/part-of": "optio", "optio.dev/stage": self.stage}
        # Pod Security `restricted` enforced on everything in the namespace: the agents' Jobs
        # (chalicelib.launch.k8s_job) and the watcher meet it.
        pod_security = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}
        namespace = {"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": NAMESPACE, "labels": {**labels, **pod_security}}}

        def meta(name: str, **extra: Any) -> dict[str, Any]:
            return {"name": name, "namespace": NAMESPACE, "labels": labels, **extra}

        manifests: list[dict[str, Any]] = [
            {"apiVersion": "v1", "kind": "ServiceAccount", "automountServiceAccountToken": False,
             "metadata": meta(RUNNER_SERVICE_ACCOUNT,
                              annotations={"eks.amazonaws.com/role-arn": runner_role.role_arn})},
            {"apiVersion": "v1", "kind": "ServiceAccount",
             "metadata": meta(WATCHER_SERVICE_ACCOUNT,
                              annotations={"eks.amazonaws.com/role-arn": watcher_role.role_arn})},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta(LAUNCHER_GROUP),
             "rules": [{"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "get", "delete"]},
                       {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
                       # Each attempt's own Secret of agent keys (chalicelib.launch.k8s_job.secret_manifest).
                       {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "update"]}, {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": ["create", "update"]}]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta(LAUNCHER_GROUP),
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": LAUNCHER_GROUP},
             "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": LAUNCHER_GROUP}]},
            self._watcher_deployment(meta, labels, images, prefix),
            {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta(NETWORK_POLICY),
             "spec": network_policy_spec()},
        ]
        ns = eks.KubernetesManifest(self, "Namespace", cluster=cluster, manifest=[namespace], overwrite=True)
        resources = eks.KubernetesManifest(self, "Resources", cluster=cluster, manifest=manifests,
                                           overwrite=True)
        resources.node.add_dependency(ns)

    def _watcher_deployment(self, meta: Callable[..., dict[str, Any]], labels: dict[str, str],
                            images: Images, prefix: str) -> dict[str, Any]:
        selector = {"app.kubernetes.io/name": "optio-watcher"}
        env = [{"name": k, "value": v} for k, v in {
            "OPTIO_TABLE_PREFIX": prefix, "AWS_REGION": self.region, "OPTIO_LAUNCHER": "kubernetes",
            "OPTIO_LOG_LEVEL": "INFO", "POWERTOOLS_SERVICE_NAME": "optio-watcher",
            "OPTIO_SECRETS_KEY_ARN": self.secrets[SECRETS_KEY].secret_arn,
            "OPTIO_WATCHER_LOG_GROUP": self._watcher_log_group_name()}.items()]
        return {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("optio-watcher", annotations={
                # checkov's skips, with their reasons (tests/infra/test_checkov.py).
                "checkov.io/skip1": "CKV_K8S_14=the tag is the deployed commit (infra/deploy.sh) in a "
                                    "repository of immutable tags",
                "checkov.io/skip2": "CKV_K8S_43=infra/deploy.sh pulls by digest; a synth without one (the "
                                    "tests, a stage's first deploy) by a tag of a repository of immutable tags",
                "checkov.io/skip3": "CKV_K8S_35=optio-watcher-env holds settings (URLs), not keys: the "
                                    "watcher reads its key from Secrets Manager"}),
            "spec": {
                "replicas": 1,
                "strategy": {"type": "Recreate"},  # one poller at a time
                "selector": {"matchLabels": selector},
                "template": {
                    "metadata": {"labels": {**labels, **selector}},
                    "spec": {
                        "serviceAccountName": WATCHER_SERVICE_ACCOUNT,
                        # Pod Security `restricted`; no Kubernetes API token (the watcher reads
                        # DynamoDB and GitHub; its AWS role comes from IRSA's own projected token).
                        "automountServiceAccountToken": False,
                        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                                            "seccompProfile": {"type": "RuntimeDefault"}},
                        "volumes": [{"name": "heartbeat", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}],
                        "containers": [{
                            "name": "watcher",
                            "image": images.watcher(self.watcher_repo.repository_uri),
                            # Runs `python -m chalicelib.forge.watcher` (infra/watcher.Dockerfile),
                            # which reads the secrets key from Secrets Manager (IRSA) at first use.
                            "command": ["python", "/app/watcher_entrypoint.py"],
                            # Anything else the watcher should see (OPTIO_GITHUB_API_URL, ...).
                            "envFrom": [{"secretRef": {"name": "optio-watcher-env", "optional": True}}],
                            "resources": {"requests": {"cpu": "100m", "memory": "256Mi"},
                                          "limits": {"cpu": "500m", "memory": "512Mi"}},
                            "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                                "capabilities": {"drop": ["ALL"]}},
                            "volumeMounts": [{"name": "heartbeat", "mountPath": WATCHER_HEARTBEAT_DIR}],
                            # infra/watcher_entrypoint.py touches the file after every poll; stale
                            # past its age, the watcher is stuck and is restarted.
                            "env": env + [{"name": "OPTIO_WATCHER_HEARTBEAT", "value": WATCHER_HEARTBEAT}],
                            "livenessProbe": {
                                "exec": {"command": ["python", "/app/watcher_entrypoint.py", "--alive",
                                                     str(WATCHER_STALE_S)]},
                                "periodSeconds": 60, "timeoutSeconds": 10, "failureThreshold": 2},
                            # Ready while polling: `kubectl rollout status` waits for a watcher that runs.
                            "readinessProbe": {
                                "exec": {"command": ["python", "/app/watcher_entrypoint.py", "--alive",
                                                     str(WATCHER_STALE_S)]},
                                "periodSeconds": 60, "timeoutSeconds": 10},
                        }],
                    },
                },
            },
        }

    def _bedrock_arns(self, models: tuple[str, ...]) -> list[str]:
        """A foundation model in this region; an inference profile of this account, and its model
        in every region the profile may route to."""
        arns: list[str] = []
        for model in models:
            profile = _INFERENCE_PROFILE.match(model)
            if profile is None:
                arns.append(f"arn:{self.partition}:bedrock:{self.region}::foundation-model/{model}")
                continue
            arns.append(f"arn:{self.partition}:bedrock:{self.region}:{self.account}:inference-profile/{model}")
            arns.append(f"arn:{self.partition}:bedrock:*::foundation-model/{profile.group(2)}")
        return arns

    # ------------------------------------------------------------------ monitoring
    def _operations(self, alarm_email: str) -> None:
        """Alarms that reach someone (an SNS topic; an email subscription with `-c alarmEmail=`),
        the launcher's asynchronous events bounded, the dashboard."""
        self.alarm_topic = sns.Topic(self, "AlarmTopic", topic_name=f"optio-{self.stage}-alarms",
                                     master_key=self.key, enforce_ssl=True)
        # CloudWatch publishes to a topic encrypted with the key: it needs the key's data keys (the
        # statement AWS documents for alarms on an encrypted topic, without conditions: a condition
        # CloudWatch's request does not carry would leave every alarm silent).
        self.key.add_to_resource_policy(iam.PolicyStatement(
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"], resources=["*"]))
        if alarm_email:
            sns.Subscription(self, "AlarmEmail", topic=self.alarm_topic, protocol=sns.SubscriptionProtocol.EMAIL,
                             endpoint=alarm_email)
        self._launch_events()
        self._watcher_metrics()
        self._alarms_and_dashboard()

    def _watcher_log_group_name(self) -> str:
        return f"/optio/{self.stage}/watcher"

    def _watcher_metrics(self) -> None:
        """The log group the PR watcher sends each poll's metric to (infra/watcher_entrypoint.py):
        a pod's output reaches no CloudWatch agent; its role may write there and nowhere else."""
        group = logs.LogGroup(self, "WatcherLogs", log_group_name=self._watcher_log_group_name(),
                              retention=LOG_RETENTION, encryption_key=self.key, removal_policy=cdk.RemovalPolicy.DESTROY)
        group.grant_write(cast(iam.Role, self.node.find_child("WatcherRole")))

    def _control_plane_logs(self) -> None:
        """A created cluster's control plane logs to the group EKS names after it, which EKS makes
        itself (kept forever, unencrypted) unless it exists: made first, with the retention and the
        stack's key, it goes with the stack."""
        if not isinstance(self.eks.cluster, eks.Cluster):
            return  # a cluster given by name logs where its owner set it up
        group = logs.LogGroup(self, "ControlPlaneLogs", log_group_name=f"/aws/eks/optio-{self.stage}/cluster",
                              retention=LOG_RETENTION, encryption_key=self.key,
                              removal_policy=cdk.RemovalPolicy.DESTROY)
        self.eks.cluster.node.add_dependency(group)

    def _launch_events(self) -> None:
        """The launcher's asynchronous events: LAUNCH_EVENT_MAX_AGE_S, LAUNCH_EVENT_RETRIES, and on
        failure a Lambda destination, the timer function, that fails the attempt at once
        (chalicelib.engine.launching.failed_launch): Lambda sends it the invocation record, the
        launch event in `requestPayload`."""
        timer = cdk.Token.as_string(self.functions[TIMER_FN].get_att("Arn"))
        config = lambda_.CfnEventInvokeConfig(
            self, "LauncherEvents", function_name=self.functions[LAUNCHER_FN].ref, qualifier="$LATEST",
            maximum_event_age_in_seconds=LAUNCH_EVENT_MAX_AGE_S, maximum_retry_attempts=LAUNCH_EVENT_RETRIES,
            destination_config=lambda_.CfnEventInvokeConfig.DestinationConfigProperty(
                on_failure=lambda_.CfnEventInvokeConfig.OnFailureProperty(destination=timer)))
        # Lambda sends the record with the launcher's role: it may invoke that function, no other.
        launcher_role = self.roles[LAUNCHER_FN]
        launcher_role.add_to_policy(iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[timer]))
        config.node.add_dependency(launcher_role)

    def _alarms_and_dashboard(self) -> None:
        period = cdk.Duration.minutes(5)
        alarms: list[cw.Alarm] = []
        notify = cw_actions.SnsAction(self.alarm_topic)

        def fn_metric(name: str, metric: str, stat: str = "Sum") -> cw.Metric:
            return cw.Metric(namespace="AWS/Lambda", metric_name=metric, statistic=stat, period=period,
                             dimensions_map={"FunctionName": self.functions[name].ref})

        def alarm(construct_id: str, metric: cw.IMetric, threshold: float, what: str, *, periods: int = 1,
                  missing: cw.TreatMissingData = cw.TreatMissingData.NOT_BREACHING,
                  comparison: cw.ComparisonOperator = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD) -> None:
            made = cw.Alarm(self, construct_id, metric=metric, threshold=threshold, evaluation_periods=periods,
                            comparison_operator=comparison, treat_missing_data=missing, alarm_description=what)
            made.add_alarm_action(notify)
            made.add_ok_action(notify)
            alarms.append(made)

        alarm("StreamIteratorAge", fn_metric(STREAM_FN, "IteratorAge", "Maximum"), 60_000,
              "The executions stream is more than a minute behind: state changes are not being acted on.")
        for name in self.functions:
            alarm(f"{name}Errors", fn_metric(name, "Errors"), 5, f"The {name} function is failing.")
            alarm(f"{name}Throttles", fn_metric(name, "Throttles"), 1, f"The {name} function is throttled.")
        alarm("LauncherEventsDropped", fn_metric(LAUNCHER_FN, "AsyncEventsDropped"), 1,
              "Launches were dropped (every retry failed, or the event aged out): those attempts failed "
              "as launch_failed.")
        alarm("StreamFailuresDepth", self.failures.metric_approximate_number_of_messages_visible(period=period),
              1, "Stream records that failed every retry are waiting in the failure queue.")

        api = {"ApiName": f"optio-{self.stage}", "Stage": "api"}

        def api_metric(metric: str, stat: str) -> cw.Metric:
            return cw.Metric(namespace="AWS/ApiGateway", metric_name=metric, statistic=stat, period=period,
                             dimensions_map=api)

        api_errors = cw.MathExpression(
            expression="IF(requests >= 20, 100 * errors / requests, 0)", period=period,
            using_metrics={"errors": api_metric("5XXError", "Sum"), "requests": api_metric("Count", "Sum")},
            label="API 5xx (% of requests)")
        alarm("Api5xxRate", api_errors, 5, "5% or more of the API's answers in 5 minutes were 5xx (at least 20 requests).")
        alarm("ApiLatencyP99", api_metric("Latency", "p99"), 5_000,
              "The API's p99 latency has been 5 s or more for 15 minutes.", periods=3)

        # Every Optio table, in one Metrics Insights query each (a metric math alarm reads at most 10 metrics).
        tables = " OR ".join(f"TableName = '{t.table_name}'" for t in self.tables.values())
        for construct_id, metric, what in (
                ("DynamoThrottles", "ThrottledRequests", "Requests to Optio's tables were throttled."),
                ("DynamoSystemErrors", "SystemErrors", "DynamoDB answered Optio's requests with 500s.")):
            alarm(construct_id, cw.MathExpression(
                expression=f'SELECT SUM({metric}) FROM SCHEMA("AWS/DynamoDB", Operation, TableName) WHERE {tables}',
                period=period, label=metric), 1, what)

        # The PR watcher counts its polls (chalicelib.observability.watcher_polled); none for three
        # of its intervals, it is stuck, gone, or sleeping out GitHub's rate limit. No data breaches.
        watcher_period = cdk.Duration.minutes(1)
        polls = cw.Metric(namespace=METRICS_NAMESPACE, metric_name="WatcherPolls", statistic="Sum",
                          period=watcher_period, dimensions_map={"service": WATCHER_SERVICE})
        alarm("WatcherSilent", polls, 1, "The PR watcher has not polled GitHub for three intervals.",
              periods=WATCHER_SILENT_MINUTES, missing=cw.TreatMissingData.BREACHING,
              comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD)

        # Optio's own metrics (chalicelib.observability: EMF, namespace "Optio", dimension service
        # from POWERTOOLS_SERVICE_NAME): TaskTransitions by `to`, TaskFailures by `reason`,
        # TimeToStartMs, TaskCostUsd, QueueDepth, AgentsRunning.
        def optio(metric: str, stat: str = "Sum", period: cdk.Duration = period, label: str | None = None,
                  **dimensions: str) -> cw.Metric:
            return cw.Metric(namespace=METRICS_NAMESPACE, metric_name=metric, statistic=stat, period=period,
                             dimensions_map={"service": SERVICE, **dimensions}, label=label)

        def transitions(to: str, period: cdk.Duration = period) -> cw.Metric:
            return optio("TaskTransitions", period=period, label=to, to=to)

        window = cdk.Duration.minutes(15)
        failed_rate = cw.MathExpression(
            expression="IF(failed >= 3, 100 * failed / (failed + completed + pr_opened), 0)",
            using_metrics={s: transitions(s, window) for s in ("failed", "completed", "pr_opened")},
            label="failed tasks (% of finished attempts)", period=window)
        alarm("FailedTasksRate", failed_rate, 50,
              "Half or more of the attempts that finished in 15 minutes failed (at least 3).")
        pod_failures = cw.MathExpression(
            expression=" + ".join(f"FILL({k}, 0)" for k in POD_FAILURES), label="agent pods failed", period=window,
            using_metrics={k: optio("TaskFailures", period=window, reason=k) for k in POD_FAILURES})
        alarm("AgentPodsFailing", pod_failures, 5,
              "Five or more agents' pods failed in 15 minutes (crashed, killed, evicted, never started, gone).")

        dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"optio-{self.stage}")
        dashboard.add_widgets(
            cw.GraphWidget(title="Queue: tasks waiting for a slot; agents running", width=12, left=[
                optio("QueueDepth", "Maximum", cdk.Duration.minutes(1), "queued"),
                optio("AgentsRunning", "Maximum", cdk.Duration.minutes(1), "agents running")]),
            cw.GraphWidget(title="Failures by reason", width=12, stacked=True,
                           left=[optio("TaskFailures", label=k, reason=k) for k in FAILURE_REASONS]),
            cw.GraphWidget(title="Tasks by state (transitions into each state)", width=12, stacked=True,
                           left=[transitions(s) for s in DASHBOARD_STATES]),
            cw.GraphWidget(title="Time to start (ms): created -> agent running", width=12, left=[
                optio("TimeToStartMs", stat, label=stat) for stat in ("p50", "p90", "Maximum")]),
            cw.GraphWidget(title="Agent cost (USD per hour)", width=12, left=[
                optio("TaskCostUsd", period=cdk.Duration.hours(1), label="cost")]),
            cw.GraphWidget(title="Failed tasks (% of finished)", width=12, left=[failed_rate]),
            cw.GraphWidget(title="API: 5xx (%) and p99 latency (ms)", width=12, left=[api_errors],
                           right=[api_metric("Latency", "p99")]),
            cw.GraphWidget(title="Stream iterator age (ms)", width=12,
                           left=[fn_metric(STREAM_FN, "IteratorAge", "Maximum")]),
            cw.GraphWidget(title="Errors", width=12, left=[fn_metric(n, "Errors") for n in self.functions]),
            cw.GraphWidget(title="Throttles", width=12, left=[fn_metric(n, "Throttles") for n in self.functions]),
            cw.GraphWidget(title="Stream failure queue depth", width=12, left=[
                self.failures.metric_approximate_number_of_messages_visible(period=period)]),
            cw.AlarmStatusWidget(title="Alarms", width=24, alarms=alarms),
        )

    # ------------------------------------------------------------------ cdk-nag
    def _nag_acknowledgements(self) -> None:
        """The AwsSolutions findings left standing (infra/app.py runs the pack), each with its reason.
        cdk-nag matches a finding's id exactly: an IAM finding is acknowledged by its evidence (the
        policy or the wildcard it names), so a new wildcard in the same policy still fails the synth."""
        def ack(scope: IConstruct, reason: str, *ids: str) -> None:
            cdk.Validations.of(scope).acknowledge(*(cdk.Acknowledgment(id=i, reason=reason) for i in ids))

        def logical_id(construct: IConstruct) -> str:
            element = construct.node.default_child if not isinstance(construct, cdk.CfnElement) else construct
            return cdk.Stack.of(construct).get_logical_id(cast(cdk.CfnElement, element))

        # cdk-nag's rendering of an ARN built from this stack's environment.
        region = "<AWS::Region>" if cdk.Token.is_unresolved(self.region) else self.region
        account = "<AWS::AccountId>" if cdk.Token.is_unresolved(self.account) else self.account
        partition = "arn:<AWS::Partition>"

        for role in [*self.roles.values(), self.node.find_child("WatcherRole")]:
            ack(role, "X-Ray's PutTraceSegments and PutTelemetryRecords take no resource (AWS documents "
                "Resource *)", "AwsSolutions-IAM5[Resource::*]")
        ack(self.roles[API_HANDLER], "The API presigns the runner's PUT and GET of any execution's session "
            "archive (chalicelib.store.sessions): keys are made per execution at run time",
            f"AwsSolutions-IAM5[Resource::<{logical_id(self.sessions)}.Arn>/*]")
        ack(self.timers, "CDK's LambdaInvoke grants the timer function's versions (`:*`) with it; the "
            "state machine invokes the one function it is given",
            f"AwsSolutions-IAM5[Resource::{partition}:lambda:{region}:{account}:function:"
            f"optio-{self.stage}-{_kebab(TIMER_FN)}:*]")
        ack(self.timers, "Step Functions' log delivery (logs:CreateLogDelivery and the rest) and X-Ray "
            "take no resource", "AwsSolutions-IAM5[Resource::*]")
        ack(self.runner_role, "A cross-region inference profile routes to its model in any region of "
            "its geography: the model ARN's region is a wildcard by design",
            *(f"AwsSolutions-IAM5[Resource::{partition}:bedrock:*::foundation-model/{m.group(2)}]"
              for m in map(_INFERENCE_PROFILE.match, self.bedrock_models) if m))
        for secret in self.secrets.values():
            ack(secret, "Optio's keys are rotated by the operator with an overlap (several keys, newest "
                "first, then the re-encrypt command; README \"Rotating keys\"), which a rotation "
                "function cannot do alone", "AwsSolutions-SMG4")
        ack(self.node.find_child("ApiGatewayLogsRole"), "The role API Gateway writes access logs with: AWS "
            "documents its managed policy for it (it writes to whichever log group a stage names)",
            f"AwsSolutions-IAM4[Policy::{partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]")
        ack(self.node.find_child("WebAclAssociation"), "RestAPIapiStage is the stage the SAM transform makes "
            "of the Chalice API: it exists once the template is transformed", "CloudFormation-Validate::E3005")
        for route in ("WebsocketConnectRoute", "WebsocketMessageRoute", "WebsocketDisconnectRoute"):
            ack(self.chalice.get_resource(route), "The live logs' $connect handler authenticates as the REST "
                "API does (the session cookie, a token, a ticket of GET /api/live) and refuses the "
                "connection otherwise; messages and $disconnect come only on a connection it accepted",
                "AwsSolutions-APIG4")
        for name in sorted(LIVE_SENDERS):
            ack(self.roles[name], "Posting to the live logs' connections: their ids are API Gateway's, made "
                "per connection at run time; the resource is this WebSocket API's stage, POST only",
                f"AwsSolutions-IAM5[Resource::{partition}:execute-api:{region}:{account}:<WebsocketAPI>/"
                f"{WEBSOCKET_STAGE}/POST/@connections/*]")
        ack(self.failures, "This queue is the stream's on-failure destination: it is the dead-letter "
            "queue; one for it would hold nothing", "AwsSolutions-SQS3")
        ack(self.sessions, "Only the API reaches the bucket (presigned URLs it signs, in its own logs "
            "and CloudTrail); a log bucket of its own would hold nothing more", "AwsSolutions-S1")
        def ecr_public(scope: IConstruct) -> list[str]:
            """CDK's kubectl handler role takes ECR Public's read-only policy under a condition of its own."""
            return ["AwsSolutions-IAM4[Policy::" + json.dumps({"Fn::If": [logical_id(c), {"Fn::Join": ["", [
                "arn:", {"Ref": "AWS::Partition"}, ":iam::aws:policy/AmazonElasticContainerRegistryPublicReadOnly"]]},
                {"Ref": "AWS::NoValue"}]}, separators=(",", ":")) + "]"
                for c in scope.node.find_all() if isinstance(c, cdk.CfnCondition) and c.node.id.endswith("HasEcrPublic")]

        managed = [f"{partition}:iam::aws:policy/{name}" for name in (
            "service-role/AWSLambdaBasicExecutionRole", "service-role/AWSLambdaVPCAccessExecutionRole",
            "AmazonEC2ContainerRegistryPullOnly",
            "AmazonEKSClusterPolicy", "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy",
            "AmazonEC2ContainerRegistryReadOnly")]
        cdk_own = ("CDK's own EKS machinery (cluster, kubectl handler, node group roles; custom resource "
                   "providers): the AWS managed policies EKS and Lambda document for them, wildcards "
                   "over this cluster's ARNs and over its provider functions' versions, CDK's runtime "
                   "and waiter; not configurable from here")
        cluster = self.eks.cluster
        if isinstance(cluster, eks.Cluster):
            ack(cluster, "The functions run outside the VPC (no NAT gateway) and reach the cluster's "
                "public endpoint with IAM-authenticated tokens and access entries; a private cluster "
                "is imported with -c vpcId (README \"Deploy to AWS\")", "AwsSolutions-EKS1")
            ack(cluster, cdk_own, *(f"AwsSolutions-IAM4[Policy::{arn}]" for arn in managed),
                *ecr_public(cluster), "AwsSolutions-IAM5[Resource::*]",
                *(f"AwsSolutions-IAM5[Resource::{partition}:eks:{region}:{account}:{kind}/optio-{self.stage}/*]"
                  for kind in ("cluster", "fargateprofile")))
        # The providers are nested stacks under the stack: `@aws-cdk--aws-eks.KubectlProvider` of a
        # created cluster, `<stack><cluster>-KubectlProvider` of an imported one.
        for child in self.node.children:
            if not child.node.id.endswith(("ClusterResourceProvider", "KubectlProvider")):
                continue
            invoked = [c for c in child.node.find_all() if isinstance(c, cdk.CfnResource)
                       and c.cfn_resource_type == "AWS::Lambda::Function"]
            ack(child, cdk_own, *(f"AwsSolutions-IAM4[Policy::{arn}]" for arn in managed),
                *(f"AwsSolutions-IAM5[Resource::<{logical_id(fn)}.Arn>:*]" for fn in invoked), *ecr_public(child),
                "AwsSolutions-L1", "AwsSolutions-SF1", "AwsSolutions-SF2")

    # ------------------------------------------------------------------ checkov
    def _checkov_skips(self) -> None:
        """The checkov findings on the template that do not apply, skipped on their resource with the
        reason (`Metadata.checkov.skip`, checkov's own form); tests/infra/test_checkov.py runs it.
        The findings left failing are the README's ("Security")."""
        def skip(resource: cdk.CfnResource, checks: dict[str, str]) -> None:
            resource.add_metadata("checkov", {"skip": [{"id": k, "comment": v} for k, v in checks.items()]})

        no_vpc = ("The functions call GitHub, Jira, Notion, Linear and model APIs: outside a VPC they "
                  "need no NAT gateway; with a private cluster the functions that reach it run in its VPC")
        for name, fn in self.functions.items():
            checks = {
                "CKV_AWS_45": "Only ARNs, names, URLs and the cluster's CA certificate (public): the keys are "
                              "read from Secrets Manager at run time (README \"Rotating keys\")",
                "CKV_AWS_173": "The environment is encrypted with the stack's key (KmsKeyArn)",
            }
            if self.kinds[name] in ("api", "schedule", "timer", "websocket"):
                checks["CKV_AWS_116"] = ("Not invoked asynchronously with events to keep: API Gateway and "
                                         "Step Functions wait for the answer, a schedule fires again")
            elif name == STREAM_FN:
                checks["CKV_AWS_116"] = ("A stream's failed records go to the mapping's on-failure "
                                         "destination (the StreamFailures queue), not a function DLQ")
            elif name == LOG_STREAM_FN:
                checks["CKV_AWS_116"] = ("A live log line is news for a minute: one that fails is read "
                                         "by the dashboard on reconnect, from the logs table")
            elif name == LAUNCHER_FN:
                checks["CKV_AWS_116"] = ("Its failed or aged-out events go to its on-failure destination "
                                         "(LauncherEvents), the timer function, which fails the attempt")
            if name not in self.reserved:
                checks["CKV_AWS_115"] = ("Takes from the account's unreserved pool, which it shares: it runs "
                                         "on a schedule or once per wake-up (RESERVED_CONCURRENCY)")
            skip(fn, {**checks, "CKV_AWS_117": no_vpc})
        skip(self.chalice.get_resource("RestAPI"), {
            "CKV_AWS_120": "Every answer is per caller and changes with the tasks: nothing to cache"})
        bucket = cast(cdk.CfnResource, self.sessions.node.default_child)
        skip(bucket, {
            "CKV_AWS_18": "Only the API reaches the bucket, through URLs it presigns (in its logs and "
                          "CloudTrail); a log bucket would hold nothing more",
            "CKV_AWS_21": "A session is rewritten by every attempt and expires; older versions are "
                          "worth nothing and would keep agents' transcripts longer than the expiry"})
        cdk.Aspects.of(self).add(CdkOwnSkips())
