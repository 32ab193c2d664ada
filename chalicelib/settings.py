"""Every environment variable Optio reads, in one place, with its default.

The README's table of variables mirrors `VARIABLES`; a test keeps the two in step.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


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
    Variable("OPTIO_API_TOKEN", "", "Admin token; locally one is generated on first start and kept in the data directory."),
    Variable("OPTIO_SECRETS_KEY", "", "Fernet key that encrypts stored secrets at rest; locally generated and kept in the data directory."),
    Variable("OPTIO_RUN_TOKEN_SECRET", "", "Key that signs the per-attempt runner tokens; locally generated and kept in the data directory."),
    Variable("OPTIO_API_URL", "", "URL the runner reports to (default: the local server's URL)."),
    Variable("OPTIO_MAX_CONCURRENT", "5", "Repo tasks running at once, across all repos."),
    Variable("OPTIO_MAX_WORKFLOW_CONCURRENT", "5", "Standalone runs at once."),
    Variable("OPTIO_STALL_THRESHOLD_MS", "900000", "A running task with no heartbeat for this long fails."),
    Variable("OPTIO_PROVISION_TIMEOUT_MS", "600000", "A task whose agent has not started this long after launch fails."),
    Variable("OPTIO_RESYNC_INTERVAL_MS", "2000", "Local mode: how often every active task is reconciled (EventBridge runs it every minute on AWS)."),
    Variable("OPTIO_TIMERS_STATE_MACHINE_ARN", "", "The Step Functions state machine that wakes an execution at a due time (a retry, a stall check, a provisioning deadline; set by the deployment); empty: local mode's in-process timers, or only the resync."),
    Variable("OPTIO_HEARTBEAT_INTERVAL_MS", "30000", "How often the runner sends a heartbeat."),
    Variable("OPTIO_EXECUTIONS_STREAM_ARN", "arn:aws:dynamodb:us-east-1:000000000000:table/optio-dev-executions/stream/local", "Stream of the executions table (set by the deployment)."),
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
    Variable("OPTIO_WORKFLOW_TRIGGER_INTERVAL", "60000", "How often (ms) schedule triggers are checked. On AWS it sets the EventBridge rule when the app is packaged (`make deploy`), in whole minutes, at least one; local mode checks every 3000 ms unless this is set."),
)

_DEFAULTS = {v.name: v.default for v in VARIABLES}


@dataclass(frozen=True)
class Settings:
    port: int
    host: str
    data_dir: str
    dynamodb_endpoint: str | None
    table_prefix: str
    region: str
    launcher: str
    api_token: str | None
    run_token_secret: str | None
    secrets_key: str | None
    api_url: str
    max_concurrent: int
    max_workflow_concurrent: int
    stall_threshold_ms: int
    provision_timeout_ms: int
    resync_interval_ms: int
    heartbeat_interval_ms: int
    executions_stream_arn: str
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

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        source = os.environ if env is None else env

        def get(name: str) -> str:
            return source.get(name) or _DEFAULTS[name]

        port = int(get("OPTIO_PORT"))
        host = get("OPTIO_HOST")
        return cls(
            port=port,
            host=host,
            data_dir=os.path.abspath(get("OPTIO_DATA_DIR")),
            dynamodb_endpoint=get("OPTIO_DYNAMODB_ENDPOINT") or None,
            table_prefix=get("OPTIO_TABLE_PREFIX"),
            region=source.get("AWS_REGION") or source.get("AWS_DEFAULT_REGION") or _DEFAULTS["AWS_REGION"],
            launcher=get("OPTIO_LAUNCHER"),
            api_token=get("OPTIO_API_TOKEN") or None,
            run_token_secret=get("OPTIO_RUN_TOKEN_SECRET") or None,
            secrets_key=get("OPTIO_SECRETS_KEY") or None,
            api_url=get("OPTIO_API_URL") or f"http://{host}:{port}",
            max_concurrent=int(get("OPTIO_MAX_CONCURRENT")),
            max_workflow_concurrent=int(get("OPTIO_MAX_WORKFLOW_CONCURRENT")),
            stall_threshold_ms=int(get("OPTIO_STALL_THRESHOLD_MS")),
            provision_timeout_ms=int(get("OPTIO_PROVISION_TIMEOUT_MS")),
            resync_interval_ms=int(get("OPTIO_RESYNC_INTERVAL_MS")),
            heartbeat_interval_ms=int(get("OPTIO_HEARTBEAT_INTERVAL_MS")),
            executions_stream_arn=get("OPTIO_EXECUTIONS_STREAM_ARN"),
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
            agent_pass_env=tuple(name.strip() for name in get("OPTIO_AGENT_PASS_ENV").split(",") if name.strip()),
        )


settings = Settings.from_env()
