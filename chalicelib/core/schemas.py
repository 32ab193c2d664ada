"""Request bodies, as JSON Schema: the validators and the OpenAPI document read the same ones."""
from __future__ import annotations

from typing import Any

from .warm_pools import MAX_WARM_POOL_SIZE

AGENT_TYPES = ("claude-code", "claude", "codex", "copilot", "gemini", "opencode", "custom")
AGENT_ALIASES = {"claude": "claude-code"}

_agent_type = {"type": "string", "enum": list(AGENT_TYPES)}
_name = {"type": "string", "minLength": 1, "maxLength": 200}

_SECRET_NAMES: dict[str, Any] = {"type": "array", "maxItems": 100, "uniqueItems": True,
                                  "items": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,127}$"}}
# The connections (MCP servers) an agent gets, by name (`/api/connections`).
CONNECTION_NAME_PATTERN = "^[a-z0-9]+(-[a-z0-9]+)*$"
_CONNECTION_NAMES: dict[str, Any] = {
    "type": "array", "maxItems": 50, "uniqueItems": True,
    "items": {"type": "string", "maxLength": 64, "pattern": CONNECTION_NAME_PATTERN}}
# An agent's network (core.network): none, the internet, or only the listed hosts and CIDRs.
_NETWORK: dict[str, Any] = {"oneOf": [
    {"type": "string", "enum": ["none", "internet"]},
    {"type": "object", "required": ["allow"], "additionalProperties": False,
     "properties": {"allow": {"type": "array", "minItems": 1, "maxItems": 100, "uniqueItems": True,
                              "items": {"type": "string", "minLength": 1, "maxLength": 253}}}},
]}
_WARM_POOL_SIZE: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": MAX_WARM_POOL_SIZE}
REPO_SETTINGS: dict[str, Any] = {
    "defaultBranch": {"type": "string", "minLength": 1, "maxLength": 255},
    "defaultAgentType": _agent_type,
    "maxConcurrentTasks": {"type": "integer", "minimum": 1, "maximum": 100},
    "autoMerge": {"type": "boolean"},
    "autoResume": {"type": "boolean"},
    "maxAutoResumes": {"type": "integer", "minimum": 0, "maximum": 100},
    "reviewEnabled": {"type": "boolean"},
    "reviewTrigger": {"type": "string", "enum": ["on_ci_pass", "on_pr"]},
    "model": {"type": ["string", "null"], "maxLength": 200},
    "maxTurnsCoding": {"type": "integer", "minimum": 1, "maximum": 10000},
    "maxTurnsReview": {"type": "integer", "minimum": 1, "maximum": 10000},
    "setupCommands": {"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": 50},
    "image": {"type": ["string", "null"], "maxLength": 500},
    "customCommand": {"type": ["string", "null"], "maxLength": 4000},
    # Runners kept started and waiting for its tasks (core.warm_pools).
    "warmPoolSize": _WARM_POOL_SIZE,
    # The secrets the repo's agents get (all agent secrets when it lists none), and their network.
    "environment": {
        "type": ["object", "null"],
        "additionalProperties": False,
        "properties": {"secrets": _SECRET_NAMES, "network": _NETWORK, "connections": _CONNECTION_NAMES},
    },
}

REPO_DEFAULTS: dict[str, Any] = {
    "defaultBranch": "main",
    "defaultAgentType": "claude-code",
    "maxConcurrentTasks": 2,
    "autoMerge": False,
    "autoResume": False,
    "maxAutoResumes": 10,
    "reviewEnabled": False,
    "reviewTrigger": "on_ci_pass",
    "model": None,
    "maxTurnsCoding": 250,
    "maxTurnsReview": 30,
    "setupCommands": [],
    "image": None,
    "environment": None,
    "customCommand": None,
    "warmPoolSize": 0,
}

REPO_CREATE: dict[str, Any] = {
    "type": "object",
    "required": ["repoUrl"],
    "additionalProperties": False,
    "properties": {"repoUrl": {"type": "string", "minLength": 1, "maxLength": 2000}, **REPO_SETTINGS},
}

TASK_CREATE: dict[str, Any] = {
    "type": "object",
    "required": ["title", "prompt"],
    "additionalProperties": False,
    "properties": {
        "type": {"type": "string", "enum": ["repo-task"]},
        "title": _name,
        "prompt": {"type": "string", "minLength": 1, "maxLength": 100000},
        "repoId": {"type": "string", "minLength": 1},
        "repoUrl": {"type": "string", "minLength": 1},
        "repoBranch": {"type": "string", "minLength": 1, "maxLength": 255},
        "agentType": _agent_type,
        "priority": {"type": "integer", "minimum": 0, "maximum": 1000},
        "maxRetries": {"type": "integer", "minimum": 0, "maximum": 20},
        "model": {"type": ["string", "null"], "maxLength": 200},
        "metadata": {"type": "object"},
        "dependsOn": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 100},
                      "maxItems": 100, "uniqueItems": True},
        # The secrets and connections its agent gets, in place of its repository's lists.
        "environment": {"type": "object", "additionalProperties": False,
                        "properties": {"secrets": _SECRET_NAMES, "connections": _CONNECTION_NAMES}},
    },
}

_role = {"type": "string", "enum": ["viewer", "member", "admin"]}
_email = {"type": "string", "minLength": 3, "maxLength": 320, "pattern": r"^[^@\s]+@[^@\s]+$"}

API_KEY_CREATE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": _name,
        # No higher than the owner's role; the owner's by default.
        "role": _role,
        "expiresInDays": {"type": "integer", "minimum": 1, "maximum": 3650},
        # Administrators only: a key for another user.
        "userId": {"type": "string", "minLength": 1, "maxLength": 100},
    },
}

USER_CREATE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["email", "role"],
    "properties": {"email": _email, "name": _name, "role": _role},
}

USER_PATCH: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {"name": _name, "role": _role, "disabled": {"type": "boolean"}},
}

SETUP_ADMIN: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["setupToken", "email"],
    "properties": {"setupToken": {"type": "string", "minLength": 1, "maxLength": 500}, "email": _email,
                   "name": _name},
}

TASK_DEFAULT_MAX_RETRIES = 3

_LOG_TYPES = ["text", "tool_use", "tool_result", "thinking", "permission", "retry", "error", "system"]
# Bounds say what a field can mean, well inside what DynamoDB stores (core.validation).
_count = {"type": ["integer", "null"], "minimum": 0, "maximum": 10**12}

RUNNER_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["attempt", "kind"],
    "properties": {
        "attempt": {"type": "integer", "minimum": 1, "maximum": 10**6},
        "kind": {"type": "string", "enum": ["started", "logs", "heartbeat", "result"]},
        "lines": {
            "type": "array",
            "maxItems": 1000,
            "items": {
                "type": "object",
                "required": ["type", "content"],
                "properties": {
                    "type": {"type": "string", "enum": _LOG_TYPES},
                    "content": {"type": "string", "maxLength": 16000},
                    "at": {"type": "string"},
                },
            },
        },
        "result": {"type": "string", "enum": ["success", "failure"]},
        "changed": {"type": "boolean"},
        "pushed": {"type": "boolean"},
        "prUrl": {"type": ["string", "null"]},
        "prNumber": {"type": ["integer", "null"], "minimum": 1, "maximum": 2**31 - 1},
        "costUsd": {"type": ["number", "null"], "minimum": 0, "maximum": 10**6},
        "inputTokens": _count,
        "outputTokens": _count,
        "model": {"type": ["string", "null"]},
        "sessionId": {"type": ["string", "null"]},
        "summary": {"type": ["string", "null"]},
        "error": {"type": ["string", "null"]},
        "errorKind": {"type": ["string", "null"]},
        "commitSha": {"type": ["string", "null"]},
        "branchName": {"type": ["string", "null"]},
    },
    "allOf": [
        {"if": {"properties": {"kind": {"const": "logs"}}}, "then": {"required": ["lines"]}},
        {"if": {"properties": {"kind": {"const": "result"}}}, "then": {"required": ["result"]}},
    ],
}

COMMENT_WRITE: dict[str, Any] = {
    "type": "object",
    "required": ["body"],
    "additionalProperties": False,
    "properties": {"body": {"type": "string", "minLength": 1, "maxLength": 20000}},
}

# A template's fields become a task's: the same rules as TASK_CREATE's.
_task_fields = TASK_CREATE["properties"]
_template_fields: dict[str, Any] = {
    "name": _name,
    "title": _task_fields["title"],
    "prompt": _task_fields["prompt"],
    "repoUrl": _task_fields["repoUrl"],
    "repoId": _task_fields["repoId"],
    "agentType": _agent_type,
    "priority": _task_fields["priority"],
    "metadata": _task_fields["metadata"],
    "paramsSchema": {"type": "object"},
    "environment": _task_fields["environment"],
}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    nullable = {**schema, "type": [schema["type"], "null"]}
    if "enum" in schema:
        nullable["enum"] = [*schema["enum"], None]
    return nullable


TEMPLATE_CREATE: dict[str, Any] = {
    "type": "object",
    "required": ["name", "prompt"],
    "additionalProperties": False,
    "properties": _template_fields,
}

# PATCH: the optional fields take null, which removes them.
TEMPLATE_UPDATE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        name: schema if name in TEMPLATE_CREATE["required"] else _nullable(schema)
        for name, schema in _template_fields.items()
    },
}

TEMPLATE_RUN: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "title": _task_fields["title"],
        "repoUrl": _task_fields["repoUrl"],
        "repoId": _task_fields["repoId"],
        "priority": _task_fields["priority"],
        "params": {"type": "object"},
    },
}

_task_ids = {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 100},
             "maxItems": 100, "uniqueItems": True}

TASK_PATCH: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "title": _name,
        "prompt": {"type": "string", "minLength": 1, "maxLength": 100000},
        "priority": {"type": "integer", "minimum": 0, "maximum": 1000},
        "maxRetries": {"type": "integer", "minimum": 0, "maximum": 20},
        "agentType": _agent_type,
        "model": {"type": ["string", "null"], "maxLength": 200},
        "metadata": {"type": ["object", "null"]},
    },
}

RESUME: dict[str, Any] = {
    "type": "object",
    "required": ["prompt"],
    "additionalProperties": False,
    "properties": {"prompt": {"type": "string", "minLength": 1, "maxLength": 100000}},
}

RESTART: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"prompt": {"type": "string", "minLength": 1, "maxLength": 100000},
                   # Continue the agent's last session (restored into the new workspace) instead of a fresh one.
                   "keepSession": {"type": "boolean"}},
}

REORDER: dict[str, Any] = {
    "type": "object",
    "required": ["taskIds"],
    "additionalProperties": False,
    "properties": {"taskIds": {**_task_ids, "minItems": 1, "maxItems": 1001}},
}

DEPENDENCIES: dict[str, Any] = {
    "type": "object",
    "required": ["dependsOnIds"],
    "additionalProperties": False,
    "properties": {"dependsOnIds": {**_task_ids, "minItems": 1}},
}

SUBTASK_CREATE: dict[str, Any] = {
    "type": "object",
    "required": ["title", "prompt"],
    "additionalProperties": False,
    "properties": {
        "title": _name,
        "prompt": {"type": "string", "minLength": 1, "maxLength": 100000},
        "taskType": {"type": "string", "enum": ["child", "step", "review"]},
        "blocksParent": {"type": "boolean"},
        "agentType": _agent_type,
        "priority": {"type": "integer", "minimum": 0, "maximum": 1000},
        "maxRetries": {"type": "integer", "minimum": 0, "maximum": 20},
    },
}

REPO_PATCH: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": REPO_SETTINGS,
}

EMPTY: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {}}

SECRET_NAME_PATTERN = "^[A-Za-z_][A-Za-z0-9_]{0,127}$"

SECRET_PUT: dict[str, Any] = {
    "type": "object",
    "required": ["value"],
    "additionalProperties": False,
    "properties": {"value": {"type": "string", "minLength": 1, "maxLength": 65536}},
}

# An MCP server agents may be given: `stdio` (a command the agent's CLI starts, with `args` and
# `env`) or `http` (a URL it calls, with `headers`). Secrets by name only: `env` values are secret
# names, `headers` values are templates whose ${NAME} are secret names (`core.connections`).
_ENV_NAME = {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,127}$"}
_connection_fields: dict[str, Any] = {
    "kind": {"type": "string", "enum": ["stdio", "http"]},
    "description": {"type": "string", "maxLength": 2000},
    "command": {"type": "string", "minLength": 1, "maxLength": 1000},
    "args": {"type": "array", "maxItems": 100, "items": {"type": "string", "maxLength": 4000}},
    "env": {"type": "object", "maxProperties": 50, "propertyNames": _ENV_NAME,
            "additionalProperties": {"type": "string", "pattern": SECRET_NAME_PATTERN}},
    "url": {"type": "string", "maxLength": 2000, "pattern": "^https?://[^\\s]+$"},
    "headers": {"type": "object", "maxProperties": 50,
                "propertyNames": {"pattern": "^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$"},
                "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 4000}},
}

CONNECTION_CREATE: dict[str, Any] = {
    "type": "object",
    "required": ["name", "kind"],
    "additionalProperties": False,
    "properties": {"name": {"type": "string", "maxLength": 64, "pattern": CONNECTION_NAME_PATTERN},
                   **_connection_fields},
}

# The name is the connection's key: it does not change. A null removes an optional field.
CONNECTION_PATCH: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {name: schema if name == "kind" else _nullable(schema)
                   for name, schema in _connection_fields.items()},
}

# The dashboard's sign-in: the token (admin or API key) that becomes the session cookie.
SESSION_CREATE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["token"],
    "properties": {"token": {"type": "string", "minLength": 1, "maxLength": 500}},
}

# Blueprints: a repo task's definition, run on demand or by a trigger; title and prompt are
# templates (`core.templates`).
_blueprint_fields: dict[str, Any] = {
    "name": _name,
    "title": {"type": "string", "minLength": 1, "maxLength": 1000},
    "prompt": _task_fields["prompt"],
    "repoUrl": _task_fields["repoUrl"],
    "repoId": _task_fields["repoId"],
    "repoBranch": _task_fields["repoBranch"],
    "agentType": _agent_type,
    "priority": _task_fields["priority"],
    "maxRetries": _task_fields["maxRetries"],
    "promptTemplateId": {"type": "string", "minLength": 1, "maxLength": 100},
    "paramsSchema": {"type": "object"},
    "environment": _task_fields["environment"],
    "enabled": {"type": "boolean"},
}

BLUEPRINT_CREATE: dict[str, Any] = {
    "type": "object",
    "required": ["type", "name"],
    "additionalProperties": False,
    "properties": {"type": {"type": "string", "enum": ["repo-blueprint"]}, **_blueprint_fields},
}  # and a prompt of its own or a linked template's, a repository by id or by URL (engine.configs)

BLUEPRINT_PATCH: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        name: schema if name in ("name", "enabled") else _nullable(schema)
        for name, schema in _blueprint_fields.items()
    },
}

RUN_CREATE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"params": {"type": "object"}},
}

TRIGGER_TYPES = ("schedule", "webhook", "ticket")
WEBHOOK_PATH_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"

TRIGGER_CREATE: dict[str, Any] = {
    "type": "object",
    "required": ["type", "config"],
    "additionalProperties": False,
    "properties": {
        "type": {"type": "string", "enum": list(TRIGGER_TYPES)},
        "config": {"type": "object"},
        "enabled": {"type": "boolean"},
    },
}

TRIGGER_PATCH: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {"config": {"type": "object"}, "enabled": {"type": "boolean"}},
}

# A trigger's `config`, by type (field names in problems are prefixed with `config.`).
TRIGGER_CONFIGS: dict[str, dict[str, Any]] = {
    "schedule": {
        "type": "object",
        "required": ["cronExpression"],
        "additionalProperties": False,
        "properties": {
            "cronExpression": {"type": "string", "minLength": 1, "maxLength": 200},
            # Constant params of every firing (a schedule has no payload to map from).
            "paramMapping": {"type": "object", "maxProperties": 100},
        },
    },
    "webhook": {
        "type": "object",
        "required": ["path"],
        "additionalProperties": False,
        "properties": {
            "path": {"type": "string", "pattern": WEBHOOK_PATH_PATTERN},
            "secret": {"type": "string", "minLength": 1, "maxLength": 1000},
            "paramMapping": {"type": "object", "maxProperties": 100,
                             "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 1000}},
        },
    },
    # Fires for each new ticket of `source` that carries every one of `labels` (any ticket without).
    "ticket": {
        "type": "object",
        "required": ["source"],
        "additionalProperties": False,
        "properties": {
            "source": {"type": "string", "enum": ["github", "linear", "jira", "notion"]},
            "labels": {"type": "array", "maxItems": 20,
                       "items": {"type": "string", "minLength": 1, "maxLength": 100}},
        },
    },
}

# A dry run of a webhook delivery (`POST /api/tasks/:id/hooks/test`): the mapping the trigger
# would have and a sample body, as the text a delivery's raw body is (parsed as a delivery's is).
HOOK_TEST: dict[str, Any] = {
    "type": "object",
    "required": ["payload"],
    "additionalProperties": False,
    "properties": {
        "config": {"type": "object", "additionalProperties": False,
                   "properties": {"paramMapping": TRIGGER_CONFIGS["webhook"]["properties"]["paramMapping"]}},
        "payload": {"type": "string", "maxLength": 1024 * 1024},
    },
}

# Standalone tasks: an agent run without a repository; each run is a workflow run.
STANDALONE_DEFAULT_MAX_RETRIES = 1
STANDALONE_DEFAULT_MAX_CONCURRENT = 2
_standalone_fields: dict[str, Any] = {
    "name": _name,
    "description": {"type": "string", "maxLength": 4000},
    "agentRuntime": _agent_type,
    "model": {"type": "string", "minLength": 1, "maxLength": 200},
    "promptTemplate": _task_fields["prompt"],
    "paramsSchema": {"type": "object"},
    "maxTurns": {"type": "integer", "minimum": 1, "maximum": 10000},
    # Not "more than 0": 5e-324 is more than 0, and no budget smaller than a cent means anything.
    "budgetUsd": {"type": "number", "minimum": 0.01, "maximum": 100000},
    "maxRetries": {"type": "integer", "minimum": 0, "maximum": 20},
    "maxConcurrent": {"type": "integer", "minimum": 1, "maximum": 100},
    "warmPoolSize": _WARM_POOL_SIZE,
    "environment": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "image": {"type": "string", "minLength": 1, "maxLength": 500},
            "setupCommands": REPO_SETTINGS["setupCommands"],
            "secrets": _SECRET_NAMES,
            "network": _NETWORK,
            "connections": _CONNECTION_NAMES,
            "resources": {"type": "object"},
        },
    },
    "enabled": {"type": "boolean"},
}

STANDALONE_CREATE: dict[str, Any] = {
    "type": "object",
    "required": ["type", "name", "promptTemplate"],
    "additionalProperties": False,
    "properties": {"type": {"type": "string", "enum": ["standalone"]}, **_standalone_fields},
}

STANDALONE_PATCH: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        name: schema if name in ("name", "enabled", "promptTemplate", "maxRetries", "maxConcurrent", "warmPoolSize")
        else _nullable(schema)
        for name, schema in _standalone_fields.items()
    },
}

# `POST /api/tasks` takes any of the three shapes, `type` says which; `PATCH /api/tasks/:id` the
# one of the task's type.
TASK_CREATE_ANY: dict[str, Any] = {"oneOf": [TASK_CREATE, BLUEPRINT_CREATE, STANDALONE_CREATE]}
TASK_PATCH_ANY: dict[str, Any] = {"anyOf": [TASK_PATCH, BLUEPRINT_PATCH, STANDALONE_PATCH]}
