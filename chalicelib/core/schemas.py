"""Request bodies, as JSON Schema: the validators and the OpenAPI document read the same ones."""
from __future__ import annotations

from typing import Any

AGENT_TYPES = ("claude-code", "claude", "codex", "copilot", "gemini", "opencode", "custom")
AGENT_ALIASES = {"claude": "claude-code"}

_agent_type = {"type": "string", "enum": list(AGENT_TYPES)}
_name = {"type": "string", "minLength": 1, "maxLength": 200}

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
    "customCommand": None,
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
    },
}

API_KEY_CREATE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"name": _name},
}

TASK_DEFAULT_MAX_RETRIES = 3

_LOG_TYPES = ["text", "tool_use", "tool_result", "thinking", "error", "system"]
_count = {"type": ["integer", "null"], "minimum": 0}

RUNNER_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["attempt", "kind"],
    "properties": {
        "attempt": {"type": "integer", "minimum": 1},
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
        "costUsd": {"type": ["number", "null"], "minimum": 0},
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
