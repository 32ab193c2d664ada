"""Every environment variable Optio reads, in one place, with its default.

The README's table of variables mirrors `VARIABLES`; a test keeps the two in step.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider


@dataclass(frozen=True)
class Variable:
    name: str
    default: str
    doc: str


VARIABLES: tuple[Variable, ...] = (
    Variable("OPTIO_PORT", "8000", "Port of the local server (`make dev`)."),
    Variable("OPTIO_HOST", "127.0.0.1", "Address the local server binds to."),
    Variable("OPTIO_DATA_DIR", ".optio", "Local data: DynamoDB Local files, admin token, agent workspaces (each removed when its attempt ends; the runner's log stays in `work/`), saved agent sessions (`sessions/`)."),
    Variable("OPTIO_DYNAMODB_ENDPOINT", "", "DynamoDB endpoint to use instead of the embedded DynamoDB Local (empty: embedded locally, AWS on Lambda)."),
    Variable("OPTIO_TABLE_PREFIX", "optio-dev-", "Prefix of every DynamoDB table name."),
    Variable("AWS_REGION", "us-east-1", "AWS region of the tables."),
    Variable("OPTIO_LAUNCHER", "local", "Where agents run: `local` (subprocesses) or `kubernetes` (EKS Jobs)."),
    Variable("OPTIO_API_TOKEN", "", "Admin token, or a JSON array of them, newest first, each accepted (README \"Rotating keys\"); locally one is generated on first start and kept in the data directory."),
    Variable("OPTIO_SECRETS_KEY", "", "Fernet key that encrypts stored secrets at rest, or a JSON array of them, newest first: new values are encrypted with the newest, any listed one decrypts; locally generated and kept in the data directory."),
    Variable("OPTIO_RUN_TOKEN_SECRET", "", "Key that signs the per-attempt runner tokens, or a JSON array of them, newest first: the newest signs, any listed one verifies; locally generated and kept in the data directory."),
    Variable("OPTIO_API_TOKEN_ARN", "", "On AWS: the Secrets Manager secret that holds `OPTIO_API_TOKEN`'s value, read at run time instead of the variable (set by the deployment for the functions that check admin tokens)."),
    Variable("OPTIO_SECRETS_KEY_ARN", "", "On AWS: the secret that holds `OPTIO_SECRETS_KEY`'s value (set for the functions that encrypt or decrypt stored secrets)."),
    Variable("OPTIO_RUN_TOKEN_SECRET_ARN", "", "On AWS: the secret that holds `OPTIO_RUN_TOKEN_SECRET`'s value (set for the functions that sign or verify runner tokens)."),
    Variable("OPTIO_KEYS_MAX_AGE_S", "300", "A key read from Secrets Manager is kept this long, then read again: a rotation reaches every function within it."),
    Variable("OPTIO_SETUP_TOKEN", "", "One-time token that creates the first administrator (`POST /api/setup/admin`, README \"People\"); locally generated, kept in the data directory and printed at start until the first administrator exists."),
    Variable("OPTIO_SETUP_TOKEN_ARN", "", "On AWS: the secret that holds `OPTIO_SETUP_TOKEN`'s value (set for the API function)."),
    Variable("OPTIO_OIDC_ISSUER", "", "Sign-in through OpenID Connect: the identity provider's issuer URL (its `/.well-known/openid-configuration` is read); empty: no sign-in but with tokens."),
    Variable("OPTIO_OIDC_CLIENT_ID", "", "Sign-in through OpenID Connect: Optio's client id at the provider."),
    Variable("OPTIO_OIDC_CLIENT_SECRET_NAME", "OIDC_CLIENT_SECRET", "Sign-in through OpenID Connect: the stored secret (`PUT /api/secrets/NAME`) that holds the client secret; never given to an agent."),
    Variable("OPTIO_OIDC_EMAIL_PROVIDERS", "", "Sign-in through a Cognito user pool federated to the company's provider: the pool's identity providers (names, comma-separated) whose users' email Optio takes as verified, as Cognito sends no `email_verified` for a SAML user (the company's directory vouches for it). Set by the deployment for its federated provider."),
    Variable("OPTIO_API_URL", "", "URL the runner reports to (default: the local server's URL)."),
    Variable("OPTIO_MAX_CONCURRENT", "5", "Repo tasks running at once, across all repos."),
    Variable("OPTIO_MAX_WORKFLOW_CONCURRENT", "5", "Standalone runs at once."),
    Variable("OPTIO_STALL_THRESHOLD_MS", "900000", "A running task with no heartbeat for this long fails."),
    Variable("OPTIO_PROVISION_TIMEOUT_MS", "600000", "A task whose agent has not started this long after launch fails."),
    Variable("OPTIO_RESYNC_INTERVAL_MS", "2000", "Local mode: how often every active task is reconciled (EventBridge runs it every minute on AWS)."),
    Variable("OPTIO_TIMERS_STATE_MACHINE_ARN", "", "The Step Functions state machine that wakes an execution at a due time (a retry, a stall check, a provisioning deadline; set by the deployment); empty: local mode's in-process timers, or only the resync."),
    Variable("OPTIO_HEARTBEAT_INTERVAL_MS", "30000", "How often the runner sends a heartbeat."),
    Variable("OPTIO_EXECUTIONS_STREAM_ARN", "arn:aws:dynamodb:us-east-1:000000000000:table/optio-dev-executions/stream/local", "Stream of the executions table (set by the deployment)."),
    Variable("OPTIO_LOGS_STREAM_ARN", "arn:aws:dynamodb:us-east-1:000000000000:table/optio-dev-execution-logs/stream/local", "Stream of the execution logs table, which feeds the live logs (set by the deployment)."),
    Variable("OPTIO_LIVE_URL", "", "The WebSocket URL of the live logs (`wss://...`, set by the deployment: the WebSocket API's stage URL); its Management API is the same URL over HTTPS. Local mode serves one itself; empty on AWS: the dashboard polls."),
    Variable("OPTIO_RUNNER_PYTHON", "", "Local launcher: the Python that runs the runner (default: the server's own)."),
    Variable("OPTIO_AGENT_PASS_ENV", "", "Local launcher: more variables of the server's environment for the runner and its agent, comma-separated (a proxy, a stand-in's settings); the server's keys are never passed."),
    Variable("OPTIO_LOG_LEVEL", "INFO", "Log level of the structured logs."),
    Variable("OPTIO_LAUNCHER_FUNCTION", "", "Kubernetes launcher: name of the launcher Lambda that creates the Jobs (set by the deployment); empty: create them in-process."),
    Variable("OPTIO_K8S_NAMESPACE", "optio", "Kubernetes namespace of the agent Jobs."),
    Variable("OPTIO_K8S_AUTH", "eks", "How to reach the cluster: `eks` (IAM token from the Lambda's role), `incluster` (a pod's service account) or `kubeconfig`."),
    Variable("OPTIO_EKS_CLUSTER_NAME", "", "EKS auth: the cluster's name (signed into the IAM token)."),
    Variable("OPTIO_EKS_ENDPOINT", "", "EKS auth: the cluster's API server URL."),
    Variable("OPTIO_EKS_CA_DATA", "", "EKS auth: the cluster's certificate authority, base64 as EKS shows it."),
    Variable("OPTIO_KUBECONFIG", "", "Kubeconfig auth: the kubeconfig file (empty: `$KUBECONFIG` or `~/.kube/config`), its current context."),
    Variable("OPTIO_K8S_SERVICE_ACCOUNT", "optio-runner", "Service account of the agent pods (bind an IAM role to it for AWS access from the agent)."),
    Variable("OPTIO_RUNNER_IMAGE", "", "Kubernetes launcher: the runner image (`runner-image/`) for repos without their own `image`."),
    Variable("OPTIO_JOB_DEADLINE_S", "14400", "An agent Job running longer than this is stopped and its task fails (`deadline_exceeded`)."),
    Variable("OPTIO_JOB_TTL_S", "3600", "Finished agent Jobs are deleted by Kubernetes this long after they end."),
    Variable("OPTIO_K8S_SCHEDULE_TIMEOUT_S", "300", "An agent pod that the cluster cannot schedule for this long fails (`unschedulable`, not retried)."),
    Variable("OPTIO_GITHUB_API_URL", "https://api.github.com", "GitHub REST API base URL (GitHub Enterprise: `https://HOST/api/v3`); the runner opens pull requests there."),
    Variable("OPTIO_PR_WATCH_INTERVAL", "30000", "How often (ms) the PR watcher polls the pull requests of `pr_opened` tasks."),
    Variable("OPTIO_TICKET_SYNC_INTERVAL", "60000", "Local mode: how often (ms) ticket providers are synced (EventBridge runs it every minute on AWS)."),
    Variable("OPTIO_LINEAR_API_URL", "https://api.linear.app/graphql", "Linear's GraphQL endpoint, for `linear` ticket providers."),
    Variable("OPTIO_NOTION_API_URL", "https://api.notion.com", "Notion's API base URL, for `notion` ticket providers (Jira's is each provider's `site`)."),
    Variable("OPTIO_SESSIONS_BUCKET", "", "S3 bucket of the agents' saved sessions (set by the deployment); empty: the data directory's `sessions/`."),
    Variable("OPTIO_SESSION_EXPIRY_DAYS", "30", "Saved agent sessions are deleted this many days after they were saved (locally when the next one is saved; on AWS the bucket's lifecycle rule, set at deploy time by the `sessionExpiryDays` context)."),
    Variable("OPTIO_WARM_POLL_MS", "1000", "How often (ms) an idle warm runner (`warmPoolSize`) asks the API for work (on AWS each ask is an API request); the local launcher also wakes a runner the moment an attempt is handed to it."),
    Variable("OPTIO_WORKFLOW_TRIGGER_INTERVAL", "60000", "How often (ms) schedule triggers are checked. On AWS it sets the EventBridge rule when the app is packaged (`make deploy`), in whole minutes, at least one; local mode checks every 3000 ms unless this is set."),
)

_DEFAULTS = {v.name: v.default for v in VARIABLES}


@dataclass(frozen=True)
class ServerKey:
    """One of Optio's own keys (the admin token, the run-token key, the secrets key): one value, or
    a JSON array of values, newest first, so that a key can be rotated: the newest signs or
    encrypts, every listed one is accepted. Where it comes from is decided here: the variable
    itself (local mode: local.bootstrap fills it from the data directory), or, when `<variable>_ARN`
    names a Secrets Manager secret (on AWS), that secret, read at first use and again once
    `max_age_s` has passed, so that no key is ever in a Lambda's environment."""

    variable: str
    given: str | None = None
    secret_id: str | None = None
    max_age_s: int = 300
    region: str | None = None  # the settings' region: the SDK reads AWS_DEFAULT_REGION only

    def values(self) -> tuple[str, ...]:
        """Newest first; empty when the key is not set."""
        if self.secret_id:
            value = _secrets_provider(self.region).get(self.secret_id, max_age=self.max_age_s)
            return key_values(self.variable, str(value))
        return key_values(self.variable, self.given or "")

    def newest(self) -> str:
        values = self.values()
        if not values:
            raise RuntimeError(f"{self.variable} is not set; local mode generates one on start")
        return values[0]


@lru_cache(maxsize=2)
def _secrets_provider(region: str | None) -> SecretsProvider:
    """One per process: it keeps the values read, each for its max age."""
    # Loaded at the first key read, not at a cold start.
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from botocore.config import Config

    return SecretsProvider(boto_config=Config(region_name=region))


def key_values(variable: str, text: str) -> tuple[str, ...]:
    """A key as kept: one value, or a JSON array of non-empty strings, newest first. Errors name
    the variable, never the value."""
    text = text.strip()
    if not text.startswith("["):
        return (text,) if text else ()
    try:
        values = json.loads(text)
    except ValueError:
        raise ValueError(f"{variable}: not a JSON array of keys") from None
    if not values or not all(isinstance(value, str) and value.strip() for value in values):
        raise ValueError(f"{variable}: a JSON array of keys holds one or more non-empty strings")
    return tuple(value.strip() for value in values)


@dataclass(frozen=True)
class Settings:
    port: int
    host: str
    data_dir: str
    dynamodb_endpoint: str | None
    table_prefix: str
    region: str
    launcher: str
    api_token: ServerKey
    run_token_secret: ServerKey
    secrets_key: ServerKey
    api_url: str
    max_concurrent: int
    max_workflow_concurrent: int
    stall_threshold_ms: int
    provision_timeout_ms: int
    resync_interval_ms: int
    heartbeat_interval_ms: int
    executions_stream_arn: str
    logs_stream_arn: str
    live_url: str | None
    runner_python: str | None
    log_level: str
    launcher_function: str | None
    k8s_namespace: str
    k8s_auth: str
    eks_cluster_name: str | None
    eks_endpoint: str | None
    eks_ca_data: str | None
    kubeconfig: str | None
    k8s_service_account: str
    runner_image: str | None
    job_deadline_s: int
    job_ttl_s: int
    k8s_schedule_timeout_s: int
    github_api_url: str = _DEFAULTS["OPTIO_GITHUB_API_URL"]
    pr_watch_interval_ms: int = 30000
    ticket_sync_interval_ms: int = 60000
    linear_api_url: str = _DEFAULTS["OPTIO_LINEAR_API_URL"]
    notion_api_url: str = _DEFAULTS["OPTIO_NOTION_API_URL"]
    # None when not set: local mode then checks every few seconds (`local.stack`).
    workflow_trigger_interval_ms: int | None = None
    sessions_bucket: str | None = None
    session_expiry_days: int = 30
    # Local launcher: names the runner gets from the server's environment beyond its allow-list.
    agent_pass_env: tuple[str, ...] = ()
    timers_state_machine_arn: str | None = None
    setup_token: ServerKey = ServerKey("OPTIO_SETUP_TOKEN")
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret_name: str = _DEFAULTS["OPTIO_OIDC_CLIENT_SECRET_NAME"]
    oidc_email_providers: frozenset[str] = frozenset()
    warm_poll_ms: int = 1000

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        source = os.environ if env is None else env

        def get(name: str) -> str:
            return source.get(name) or _DEFAULTS[name]

        def key(variable: str) -> ServerKey:
            return ServerKey(variable, get(variable) or None, get(f"{variable}_ARN") or None,
                             int(get("OPTIO_KEYS_MAX_AGE_S")), region)

        port = int(get("OPTIO_PORT"))
        region = source.get("AWS_REGION") or source.get("AWS_DEFAULT_REGION") or _DEFAULTS["AWS_REGION"]
        host = get("OPTIO_HOST")
        return cls(
            port=port,
            host=host,
            data_dir=os.path.abspath(get("OPTIO_DATA_DIR")),
            dynamodb_endpoint=get("OPTIO_DYNAMODB_ENDPOINT") or None,
            table_prefix=get("OPTIO_TABLE_PREFIX"),
            region=region,
            launcher=get("OPTIO_LAUNCHER"),
            api_token=key("OPTIO_API_TOKEN"),
            run_token_secret=key("OPTIO_RUN_TOKEN_SECRET"),
            secrets_key=key("OPTIO_SECRETS_KEY"),
            api_url=get("OPTIO_API_URL") or f"http://{host}:{port}",
            max_concurrent=int(get("OPTIO_MAX_CONCURRENT")),
            max_workflow_concurrent=int(get("OPTIO_MAX_WORKFLOW_CONCURRENT")),
            stall_threshold_ms=int(get("OPTIO_STALL_THRESHOLD_MS")),
            provision_timeout_ms=int(get("OPTIO_PROVISION_TIMEOUT_MS")),
            resync_interval_ms=int(get("OPTIO_RESYNC_INTERVAL_MS")),
            heartbeat_interval_ms=int(get("OPTIO_HEARTBEAT_INTERVAL_MS")),
            executions_stream_arn=get("OPTIO_EXECUTIONS_STREAM_ARN"),
            logs_stream_arn=get("OPTIO_LOGS_STREAM_ARN"),
            live_url=get("OPTIO_LIVE_URL") or None,
            runner_python=get("OPTIO_RUNNER_PYTHON") or None,
            log_level=get("OPTIO_LOG_LEVEL"),
            launcher_function=get("OPTIO_LAUNCHER_FUNCTION") or None,
            k8s_namespace=get("OPTIO_K8S_NAMESPACE"),
            k8s_auth=get("OPTIO_K8S_AUTH"),
            eks_cluster_name=get("OPTIO_EKS_CLUSTER_NAME") or None,
            eks_endpoint=get("OPTIO_EKS_ENDPOINT") or None,
            eks_ca_data=get("OPTIO_EKS_CA_DATA") or None,
            kubeconfig=get("OPTIO_KUBECONFIG") or None,
            k8s_service_account=get("OPTIO_K8S_SERVICE_ACCOUNT"),
            runner_image=get("OPTIO_RUNNER_IMAGE") or None,
            job_deadline_s=int(get("OPTIO_JOB_DEADLINE_S")),
            job_ttl_s=int(get("OPTIO_JOB_TTL_S")),
            k8s_schedule_timeout_s=int(get("OPTIO_K8S_SCHEDULE_TIMEOUT_S")),
            github_api_url=get("OPTIO_GITHUB_API_URL").rstrip("/"),
            pr_watch_interval_ms=int(get("OPTIO_PR_WATCH_INTERVAL")),
            ticket_sync_interval_ms=int(get("OPTIO_TICKET_SYNC_INTERVAL")),
            linear_api_url=get("OPTIO_LINEAR_API_URL"),
            notion_api_url=get("OPTIO_NOTION_API_URL").rstrip("/"),
            workflow_trigger_interval_ms=int(source["OPTIO_WORKFLOW_TRIGGER_INTERVAL"])
            if source.get("OPTIO_WORKFLOW_TRIGGER_INTERVAL") else None,
            sessions_bucket=get("OPTIO_SESSIONS_BUCKET") or None,
            session_expiry_days=int(get("OPTIO_SESSION_EXPIRY_DAYS")),
            timers_state_machine_arn=get("OPTIO_TIMERS_STATE_MACHINE_ARN") or None,
            setup_token=key("OPTIO_SETUP_TOKEN"),
            oidc_issuer=get("OPTIO_OIDC_ISSUER") or None,
            oidc_client_id=get("OPTIO_OIDC_CLIENT_ID") or None,
            oidc_client_secret_name=get("OPTIO_OIDC_CLIENT_SECRET_NAME"),
            oidc_email_providers=frozenset(n.strip() for n in get("OPTIO_OIDC_EMAIL_PROVIDERS").split(",") if n.strip()),
            warm_poll_ms=int(get("OPTIO_WARM_POLL_MS")),
            agent_pass_env=tuple(name.strip() for name in get("OPTIO_AGENT_PASS_ENV").split(",") if name.strip()),
        )


settings = Settings.from_env()
