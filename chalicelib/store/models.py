"""The DynamoDB tables, as pynamodb models: the one definition of every table and index.

Local mode creates the tables from these models (`store.tables`), and the infrastructure code
derives its table definitions from them too. Attribute names are the API's camelCase names, so
a row and its JSON shape say the same thing.
"""
from __future__ import annotations

import os

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.settings import settings

ACTIVE_PARTITION = "active"


class _Meta:
    """Connection settings shared by every table."""

    region = settings.region
    host = settings.dynamodb_endpoint
    billing_mode = "PAY_PER_REQUEST"
    # Fail fast when the store is unreachable instead of hanging a request for a minute.
    connect_timeout_seconds = 2
    read_timeout_seconds = 10
    # DynamoDB Local accepts any credentials; AWS uses the function's role.
    if settings.dynamodb_endpoint and not os.environ.get("AWS_ACCESS_KEY_ID"):
        aws_access_key_id = "local"
        aws_secret_access_key = "local"


def _table(name: str) -> str:
    return f"{settings.table_prefix}{name}"


class QueueIndex(GlobalSecondaryIndex["ExecutionModel"]):
    """Queued executions in start order, one partition per kind. Sparse: `queuePartition` exists
    only while queued."""

    class Meta:
        index_name = "queue-index"
        projection = AllProjection()
    queuePartition = UnicodeAttribute(hash_key=True)
    queueSort = UnicodeAttribute(range_key=True)


class ActiveIndex(GlobalSecondaryIndex["ExecutionModel"]):
    """Executions the resync must look at. Sparse: set only while the reconciler may have work."""

    class Meta:
        index_name = "active-index"
        projection = KeysOnlyProjection()
    activePartition = UnicodeAttribute(hash_key=True)
    updatedAt = UnicodeAttribute(range_key=True)


class TypeIndex(GlobalSecondaryIndex["ExecutionModel"]):
    class Meta:
        index_name = "type-index"
        projection = AllProjection()
    type = UnicodeAttribute(hash_key=True)
    createdAt = UnicodeAttribute(range_key=True)


class StateIndex(GlobalSecondaryIndex["ExecutionModel"]):
    class Meta:
        index_name = "state-index"
        projection = AllProjection()
    state = UnicodeAttribute(hash_key=True)
    createdAt = UnicodeAttribute(range_key=True)


class RepoIndex(GlobalSecondaryIndex["ExecutionModel"]):
    class Meta:
        index_name = "repo-index"
        projection = AllProjection()
    repoId = UnicodeAttribute(hash_key=True)
    createdAt = UnicodeAttribute(range_key=True)


class ParentIndex(GlobalSecondaryIndex["ExecutionModel"]):
    """Subtasks of a task. Sparse: only subtasks have `parentId`."""

    class Meta:
        index_name = "parent-index"
        projection = AllProjection()
    parentId = UnicodeAttribute(hash_key=True)
    createdAt = UnicodeAttribute(range_key=True)


class PrUrlIndex(GlobalSecondaryIndex["ExecutionModel"]):
    """The task of a pull request (GitHub webhooks). Sparse: only tasks that opened a PR."""

    class Meta:
        index_name = "pr-url-index"
        projection = KeysOnlyProjection()
    prUrl = UnicodeAttribute(hash_key=True)


class ConfigRunIndex(GlobalSecondaryIndex["ExecutionModel"]):
    """The runs of a blueprint (repo tasks) or of a standalone task. Sparse: only executions a
    definition created have `taskConfigId`."""

    class Meta:
        index_name = "config-run-index"
        projection = AllProjection()
    taskConfigId = UnicodeAttribute(hash_key=True)
    createdAt = UnicodeAttribute(range_key=True)


class ExecutionModel(Model):
    """Repo tasks and runs of standalone tasks: one entity, told apart by `type` (the kind); its
    stream wakes the executor on every change. A run leaves the repository fields empty."""

    class Meta(_Meta):
        table_name = _table("executions")
        stream_view_type = "NEW_AND_OLD_IMAGES"

    id = UnicodeAttribute(hash_key=True)
    type = UnicodeAttribute(default="repo-task")
    version = NumberAttribute(default=0)
    state = UnicodeAttribute()
    title = UnicodeAttribute()
    prompt = UnicodeAttribute()
    repoId = UnicodeAttribute(null=True)
    repoUrl = UnicodeAttribute(null=True)
    repoBranch = UnicodeAttribute(null=True)
    branchName = UnicodeAttribute(null=True)
    agentType = UnicodeAttribute()
    model = UnicodeAttribute(null=True)
    priority = NumberAttribute(default=0)
    retryCount = NumberAttribute(default=0)
    maxRetries = NumberAttribute(default=3)
    retryable = BooleanAttribute(default=True)
    freeRetry = BooleanAttribute(null=True)
    attempt = NumberAttribute(default=0)
    taskType = UnicodeAttribute(default="coding")
    parentId = UnicodeAttribute(null=True)
    subtaskOrder = NumberAttribute(null=True)
    blocksParent = BooleanAttribute(null=True)
    dependsOn = ListAttribute(of=UnicodeAttribute, null=True)
    # Repo tasks: {"secrets": [...]}, the secrets its agent gets in place of its repository's list
    # (given directly or by the blueprint or template it was created from).
    environment = JSONAttribute(null=True)
    # Context for the next attempt: a resume continues the agent's session with `nextPrompt`,
    # a restart starts a fresh session with it.
    nextPrompt = UnicodeAttribute(null=True)
    resumeSession = BooleanAttribute(null=True)
    resetBranch = BooleanAttribute(null=True)
    metadata = JSONAttribute(null=True)
    prUrl = UnicodeAttribute(null=True)
    prNumber = NumberAttribute(null=True)
    prState = UnicodeAttribute(null=True)
    prChecksStatus = UnicodeAttribute(null=True)
    prReviewStatus = UnicodeAttribute(null=True)
    # Written by the PR watcher: when it looked, and the rest of what it saw (head sha,
    # mergeability, failing checks, review comments).
    prObservedAt = UnicodeAttribute(null=True)
    prDetails = JSONAttribute(null=True)
    # Written by the executor: the PR situation it last acted on (`core.pull_requests`).
    prActedOn = UnicodeAttribute(null=True)
    # Automatic resumes since the last manual action.
    autoResumeCount = NumberAttribute(null=True)
    costUsd = NumberAttribute(null=True)
    inputTokens = NumberAttribute(null=True)
    outputTokens = NumberAttribute(null=True)
    # What the earlier attempts spent (core.accounting): the totals are these plus the current one's.
    spentCostUsd = NumberAttribute(null=True)
    spentInputTokens = NumberAttribute(null=True)
    spentOutputTokens = NumberAttribute(null=True)
    modelUsed = UnicodeAttribute(null=True)
    sessionId = UnicodeAttribute(null=True)
    resultSummary = UnicodeAttribute(null=True)
    errorMessage = UnicodeAttribute(null=True)
    errorKind = UnicodeAttribute(null=True)
    commitSha = UnicodeAttribute(null=True)
    # Who created it (`store.acting`); none on rows from before it was recorded.
    createdBy = UnicodeAttribute(null=True)
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()
    queuedAt = UnicodeAttribute(null=True)
    launchedAt = UnicodeAttribute(null=True)
    # The warm runner its current attempt was handed to (core.warm_pools); none when a pod or
    # process was launched for the attempt. Cleared when a new attempt takes a slot.
    warmPod = UnicodeAttribute(null=True)
    startedAt = UnicodeAttribute(null=True)
    completedAt = UnicodeAttribute(null=True)
    lastHeartbeatAt = UnicodeAttribute(null=True)
    # The scope (repo or standalone task) whose slot this execution holds, so release is exact.
    slotScope = UnicodeAttribute(null=True)
    # The blueprint or standalone task (task config) this execution is a run of.
    taskConfigId = UnicodeAttribute(null=True)
    # Runs of standalone tasks: the params their prompt was rendered with, and what fired them.
    params = JSONAttribute(null=True)
    triggerParams = JSONAttribute(null=True)
    trigger = JSONAttribute(null=True)

    queuePartition = UnicodeAttribute(null=True)
    queueSort = UnicodeAttribute(null=True)
    activePartition = UnicodeAttribute(null=True)

    queue_index = QueueIndex()
    active_index = ActiveIndex()
    type_index = TypeIndex()
    state_index = StateIndex()
    repo_index = RepoIndex()
    parent_index = ParentIndex()
    pr_url_index = PrUrlIndex()
    config_run_index = ConfigRunIndex()


class ExecutionEventModel(Model):
    """One row per transition; the sort key is the execution version the transition produced."""

    class Meta(_Meta):
        table_name = _table("execution-events")

    executionId = UnicodeAttribute(hash_key=True)
    eventKey = UnicodeAttribute(range_key=True)
    fromState = UnicodeAttribute(null=True)
    toState = UnicodeAttribute()
    trigger = UnicodeAttribute()
    message = UnicodeAttribute(null=True)
    at = UnicodeAttribute()
    # `user:<id>`, `apikey:<id>`, `admin`, `trigger:<id>` or `system` (`store.acting`); none on
    # events from before it was recorded.
    actor = UnicodeAttribute(null=True)


class ExecutionLogModel(Model):
    """Its stream feeds the live logs (`engine.live`): each new line goes to the dashboards
    watching its execution."""

    class Meta(_Meta):
        table_name = _table("execution-logs")
        stream_view_type = "NEW_IMAGE"

    executionId = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True)
    attempt = NumberAttribute()
    logType = UnicodeAttribute()
    content = UnicodeAttribute()
    at = UnicodeAttribute()


class TaskDependencyModel(Model):
    """One row per edge "taskId waits for dependsOnId", keyed for the reverse look-up: the
    dependents of a task are one query. The forward list lives on the task row (`dependsOn`)."""

    class Meta(_Meta):
        table_name = _table("task-dependencies")

    dependsOnId = UnicodeAttribute(hash_key=True)
    taskId = UnicodeAttribute(range_key=True)
    createdAt = UnicodeAttribute()


class CounterModel(Model):
    """Concurrency slots (`core.dispatch.slot_keys`: global and per repo for repo tasks, global and
    per standalone task for runs) and sequence counters."""

    class Meta(_Meta):
        table_name = _table("counters")

    key = UnicodeAttribute(hash_key=True)
    value = NumberAttribute(default=0)


class RepoModel(Model):
    class Meta(_Meta):
        table_name = _table("repos")

    id = UnicodeAttribute(hash_key=True)
    repoUrl = UnicodeAttribute()
    name = UnicodeAttribute()
    defaultBranch = UnicodeAttribute()
    defaultAgentType = UnicodeAttribute()
    maxConcurrentTasks = NumberAttribute()
    autoMerge = BooleanAttribute()
    autoResume = BooleanAttribute()
    maxAutoResumes = NumberAttribute()
    reviewEnabled = BooleanAttribute()
    reviewTrigger = UnicodeAttribute()
    model = UnicodeAttribute(null=True)
    maxTurnsCoding = NumberAttribute()
    maxTurnsReview = NumberAttribute()
    setupCommands = ListAttribute(of=UnicodeAttribute, default=list)
    image = UnicodeAttribute(null=True)
    customCommand = UnicodeAttribute(null=True)
    # {"secrets": [...]}: the secrets its agents get (all agent secrets when absent).
    environment = JSONAttribute(null=True)
    # Runners kept started and waiting for its tasks (core.warm_pools); absent on older rows: 0.
    warmPoolSize = NumberAttribute(null=True)
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()


class SecretModel(Model):
    """Values are encrypted before they reach this table (`store.secrets`)."""

    class Meta(_Meta):
        table_name = _table("secrets")

    name = UnicodeAttribute(hash_key=True)
    ciphertext = UnicodeAttribute()
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()


class UniqueKeyModel(Model):
    """Claimed with a conditional put: repo URLs, idempotency keys of deliveries and firings. A
    webhook path's claim also counts the path's deliveries in the current minute (the rate limit)
    and names its trigger's task config (`targetId`, which never changes), so that one write both
    counts a delivery and finds what to read next: the trigger and its config, read together."""

    class Meta(_Meta):
        table_name = _table("keys")

    key = UnicodeAttribute(hash_key=True)
    ref = UnicodeAttribute()
    createdAt = UnicodeAttribute()
    targetId = UnicodeAttribute(null=True)  # a webhook path's: none on paths claimed before it was kept
    rateMinute = UnicodeAttribute(null=True)
    rateCount = NumberAttribute(null=True)


class TokenIndex(GlobalSecondaryIndex["ApiKeyModel"]):
    class Meta:
        index_name = "token-index"
        projection = AllProjection()
    tokenHash = UnicodeAttribute(hash_key=True)


class ApiKeyModel(Model):
    class Meta(_Meta):
        table_name = _table("api-keys")

    id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(null=True)
    tokenHash = UnicodeAttribute()
    tokenPrefix = UnicodeAttribute()
    createdAt = UnicodeAttribute()
    # The user the key acts for; none on keys the admin token made (and on keys from before users).
    userId = UnicodeAttribute(null=True)
    # No higher than its user's; none on keys from before roles, which could do everything.
    role = UnicodeAttribute(null=True)
    expiresAt = UnicodeAttribute(null=True)
    # `session`: a sign-in's cookie (`api.oidc`), never listed with the keys; none: an API key.
    kind = UnicodeAttribute(null=True)

    token_index = TokenIndex()


class UserEmailIndex(GlobalSecondaryIndex["UserModel"]):
    class Meta:
        index_name = "email-index"
        projection = AllProjection()
    email = UnicodeAttribute(hash_key=True)


class UserIdentityIndex(GlobalSecondaryIndex["UserModel"]):
    """Users by the identity provider's `<issuer> <subject>`. Sparse: set at the first sign-in."""

    class Meta:
        index_name = "identity-index"
        projection = AllProjection()
    identity = UnicodeAttribute(hash_key=True)


class UserModel(Model):
    """People: invited by an administrator (or the first one, by setup) by email, and bound to an
    identity at their first sign-in. The email is unique: claimed as `user-email#<email>` in
    `UniqueKeyModel`."""

    class Meta(_Meta):
        table_name = _table("users")

    id = UnicodeAttribute(hash_key=True)
    email = UnicodeAttribute()
    name = UnicodeAttribute(null=True)
    role = UnicodeAttribute()
    disabled = BooleanAttribute(default=False)
    identity = UnicodeAttribute(null=True)
    createdBy = UnicodeAttribute()
    lastSignInAt = UnicodeAttribute(null=True)
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()

    email_index = UserEmailIndex()
    identity_index = UserIdentityIndex()


class CommentModel(Model):
    """Comments on a task, oldest first: the sort key is `<createdAt>#<id>`."""

    class Meta(_Meta):
        table_name = _table("comments")

    taskId = UnicodeAttribute(hash_key=True)
    commentKey = UnicodeAttribute(range_key=True)
    id = UnicodeAttribute()
    author = UnicodeAttribute()
    # The user the author acted for (a sign-in or one of their keys): any of that user's
    # principals edits the comment. None for the admin token, its keys, and older comments.
    authorUserId = UnicodeAttribute(null=True)
    body = UnicodeAttribute()
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()


class TemplateModel(Model):
    """Task templates. The name is unique: claimed as `template-name#<name>` in `UniqueKeyModel`."""

    class Meta(_Meta):
        table_name = _table("templates")

    id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    title = UnicodeAttribute(null=True)
    prompt = UnicodeAttribute()
    repoUrl = UnicodeAttribute(null=True)
    repoId = UnicodeAttribute(null=True)
    agentType = UnicodeAttribute(null=True)
    priority = NumberAttribute(null=True)
    metadata = JSONAttribute(null=True)
    paramsSchema = JSONAttribute(null=True)
    # {"secrets": [...]}: what the agents of tasks created from it get.
    environment = JSONAttribute(null=True)
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()


class ConfigTypeIndex(GlobalSecondaryIndex["TaskConfigModel"]):
    class Meta:
        index_name = "type-index"
        projection = AllProjection()
    type = UnicodeAttribute(hash_key=True)
    createdAt = UnicodeAttribute(range_key=True)


class TaskConfigModel(Model):
    """Definitions that are not themselves run: blueprints (`repo-blueprint`), whose runs are repo
    tasks, and standalone tasks (`standalone`), whose runs are runs. Kept apart from the executions table, whose stream wakes the executor."""

    class Meta(_Meta):
        table_name = _table("task-configs")

    id = UnicodeAttribute(hash_key=True)
    type = UnicodeAttribute()
    name = UnicodeAttribute()
    title = UnicodeAttribute(null=True)
    prompt = UnicodeAttribute(null=True)
    repoUrl = UnicodeAttribute(null=True)
    repoId = UnicodeAttribute(null=True)
    repoBranch = UnicodeAttribute(null=True)
    agentType = UnicodeAttribute(null=True)
    priority = NumberAttribute(null=True)
    maxRetries = NumberAttribute(null=True)
    promptTemplateId = UnicodeAttribute(null=True)
    paramsSchema = JSONAttribute(null=True)
    enabled = BooleanAttribute(default=True)
    # Standalone tasks only.
    description = UnicodeAttribute(null=True)
    agentRuntime = UnicodeAttribute(null=True)
    model = UnicodeAttribute(null=True)
    promptTemplate = UnicodeAttribute(null=True)
    maxTurns = NumberAttribute(null=True)
    budgetUsd = NumberAttribute(null=True)
    maxConcurrent = NumberAttribute(null=True)
    environment = JSONAttribute(null=True)
    warmPoolSize = NumberAttribute(null=True)
    createdBy = UnicodeAttribute(null=True)
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()

    type_index = ConfigTypeIndex()


class TriggerTargetIndex(GlobalSecondaryIndex["TriggerModel"]):
    class Meta:
        index_name = "target-index"
        projection = AllProjection()
    targetId = UnicodeAttribute(hash_key=True)
    createdAt = UnicodeAttribute(range_key=True)


class TriggerDueIndex(GlobalSecondaryIndex["TriggerModel"]):
    """Schedule triggers by fire time, so a tick reads only the due ones. Sparse: `duePartition`
    exists only on enabled schedule triggers."""

    class Meta:
        index_name = "due-index"
        projection = AllProjection()
    duePartition = UnicodeAttribute(hash_key=True)
    nextFireAt = UnicodeAttribute(range_key=True)


class TriggerTicketIndex(GlobalSecondaryIndex["TriggerModel"]):
    """Ticket triggers by source, so a new ticket reads only the triggers that may want it.
    Sparse: `ticketSource` exists only on ticket triggers."""

    class Meta:
        index_name = "ticket-index"
        projection = AllProjection()
    ticketSource = UnicodeAttribute(hash_key=True)
    createdAt = UnicodeAttribute(range_key=True)


class TriggerModel(Model):
    """What fires a task config: a schedule, a webhook or new tickets. At most one of each type per config,
    claimed as `trigger#<targetId>#<type>` in `UniqueKeyModel`; a webhook's path as
    `webhook-path#<path>`."""

    class Meta(_Meta):
        table_name = _table("triggers")

    id = UnicodeAttribute(hash_key=True)
    targetId = UnicodeAttribute()
    type = UnicodeAttribute()
    config = JSONAttribute()
    enabled = BooleanAttribute(default=True)
    lastFiredAt = UnicodeAttribute(null=True)
    nextFireAt = UnicodeAttribute(null=True)
    duePartition = UnicodeAttribute(null=True)
    ticketSource = UnicodeAttribute(null=True)
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()

    target_index = TriggerTargetIndex()
    due_index = TriggerDueIndex()
    ticket_index = TriggerTicketIndex()


class TicketProviderModel(Model):
    """Where tickets come from (SPEC §8): `github` issues of a repo, or `linear` issues of a team.
    Each ticket becomes at most one task: claimed in `UniqueKeyModel` (`core.tickets.ticket_key`)."""

    class Meta(_Meta):
        table_name = _table("ticket-providers")

    id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()
    repoId = UnicodeAttribute()
    agentType = UnicodeAttribute(null=True)
    config = JSONAttribute(null=True)
    enabled = BooleanAttribute(default=True)
    lastSyncAt = UnicodeAttribute(null=True)
    lastError = UnicodeAttribute(null=True)
    # Failed syncs in a row; at `core.tickets.MAX_SYNC_FAILURES` the provider is disabled.
    failureCount = NumberAttribute(default=0)
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()


class ConnectionModel(Model):
    """An MCP server agents may be given (`environment.connections`): a command it starts (`stdio`)
    or a URL it calls (`http`). Secrets are named, never held: `env` maps the server's variables
    to secret names, `headers` are templates naming secrets as ${NAME} (`core.connections`)."""

    class Meta(_Meta):
        table_name = _table("connections")

    name = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    command = UnicodeAttribute(null=True)
    args = JSONAttribute(null=True)
    env = JSONAttribute(null=True)
    url = UnicodeAttribute(null=True)
    headers = JSONAttribute(null=True)
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()
class WarmPoolIndex(GlobalSecondaryIndex["WarmPodModel"]):
    class Meta:
        index_name = "pool-index"
        projection = AllProjection()
    pool = UnicodeAttribute(hash_key=True)
    createdAt = UnicodeAttribute(range_key=True)


class WarmPodModel(Model):
    """A warm runner (`core.warm_pools`): started for a pool, idle until an attempt is handed to
    it with a write conditioned on `state` being idle. `attempt` holds that attempt's launch, its
    secrets sealed, until the runner claims it."""

    class Meta(_Meta):
        table_name = _table("warm-pods")

    id = UnicodeAttribute(hash_key=True)
    pool = UnicodeAttribute()
    state = UnicodeAttribute()
    executionId = UnicodeAttribute(null=True)
    attempt = NumberAttribute(null=True)
    launch = JSONAttribute(null=True)
    createdAt = UnicodeAttribute()
    assignedAt = UnicodeAttribute(null=True)

    pool_index = WarmPoolIndex()


class LiveSubscriberIndex(GlobalSecondaryIndex["LiveConnectionModel"]):
    class Meta:
        index_name = "execution-index"
        projection = KeysOnlyProjection()
    executionId = UnicodeAttribute(hash_key=True)


class LiveConnectionModel(Model):
    """An open WebSocket connection of the live logs (`services.live`): who opened it and the
    execution it follows, if any. Deleted on disconnect or when a post finds it gone; `expiresAt`
    removes the row of a connection whose disconnect was lost."""

    class Meta(_Meta):
        table_name = _table("live-connections")

    connectionId = UnicodeAttribute(hash_key=True)
    principal = UnicodeAttribute()
    executionId = UnicodeAttribute(null=True)
    connectedAt = UnicodeAttribute()
    expiresAt = TTLAttribute()

    subscriber_index = LiveSubscriberIndex()


ALL_MODELS: tuple[type[Model], ...] = (
    ExecutionModel,
    ExecutionEventModel,
    ExecutionLogModel,
    TaskDependencyModel,
    CounterModel,
    RepoModel,
    SecretModel,
    UniqueKeyModel,
    ApiKeyModel,
    CommentModel,
    TemplateModel,
    TaskConfigModel,
    TriggerModel,
    TicketProviderModel,
    UserModel,
    ConnectionModel,
    WarmPodModel,
    LiveConnectionModel,
)
