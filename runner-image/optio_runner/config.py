"""Reads the runner's whole input from the environment, in one place."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optio_runner.connections import parse_connections

REQUIRED = (
    "OPTIO_TASK_ID",
    "OPTIO_ATTEMPT",
    "OPTIO_API_URL",
    "OPTIO_RUN_TOKEN",
    "OPTIO_REPO_URL",
    "OPTIO_BRANCH_NAME",
    "OPTIO_AGENT_TYPE",
    "OPTIO_PROMPT",
)
# OPTIO_RUN_KIND=workflow-run: a run of a standalone task, with no repository. The agent works in
# a scratch directory; nothing is cloned or pushed; the reports go to the run's own channel.
TASK_KIND = "task"
WORKFLOW_RUN_KIND = "workflow-run"
REPO_ONLY = ("OPTIO_REPO_URL", "OPTIO_BRANCH_NAME")
AGENT_BIN_PREFIX = "OPTIO_AGENT_BIN_"
# Kept out of every child process: the agent runs arbitrary code and must not be able to post
# events (or a forged result) for its own task.
PRIVATE_VARIABLES = ("OPTIO_RUN_TOKEN",)


class ConfigError(Exception):
    """The environment cannot describe an attempt; the runner exits 2 without reporting."""


@dataclass(frozen=True)
class Config:
    task_id: str
    attempt: int
    api_url: str
    run_token: str
    repo_url: str
    repo_branch: str
    branch_name: str
    task_title: str
    agent_type: str
    prompt: str
    max_turns: int
    model: str | None
    resume_session_id: str | None
    reset_branch: bool
    setup_commands: tuple[str, ...]
    custom_command: str | None
    heartbeat_interval_s: float
    log_flush_s: float
    budget_usd: float | None
    workspace: Path
    run_kind: str = TASK_KIND
    # OPTIO_AGENT_NETWORK=none (set by the local launcher): the agent runs in a network namespace
    # of its own with loopback only. In a pod the cluster's NetworkPolicy decides instead.
    agent_offline: bool = False
    agent_bin_overrides: Mapping[str, str] = field(default_factory=dict)
    # OPTIO_CONNECTIONS: the MCP servers the agent gets, secrets by name (optio_runner.connections).
    connections: tuple[Mapping[str, Any], ...] = ()
    child_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def repo_dir(self) -> Path:
        return self.workspace / "repo"

    @property
    def agent_home(self) -> Path:
        """The agent's HOME: inside the workspace, so nothing of one attempt outlives it unless
        saved as the session."""
        return self.workspace / "home"

    @property
    def has_repo(self) -> bool:
        return self.run_kind == TASK_KIND

    @property
    def work_dir(self) -> Path:
        """Where setup commands and the agent run: the checkout, or a scratch directory."""
        return self.repo_dir if self.has_repo else self.workspace / "work"

    @property
    def events_path(self) -> str:
        return "tasks" if self.has_repo else "workflow-runs"

    def agent_binary(self, agent_type: str, default: str) -> str:
        key = AGENT_BIN_PREFIX + agent_type.upper().replace("-", "_")
        return self.agent_bin_overrides.get(key, default)


def load_config(env: Mapping[str, str]) -> Config:
    run_kind = _optional(env, "OPTIO_RUN_KIND") or TASK_KIND
    if run_kind not in (TASK_KIND, WORKFLOW_RUN_KIND):
        raise ConfigError(f"OPTIO_RUN_KIND must be {TASK_KIND} or {WORKFLOW_RUN_KIND}, got {run_kind!r}")
    required = REQUIRED if run_kind == TASK_KIND else tuple(n for n in REQUIRED if n not in REPO_ONLY)
    missing = [name for name in required if not env.get(name, "").strip()]
    if missing:
        raise ConfigError("missing required environment variables: " + ", ".join(missing))
    prompt = env["OPTIO_PROMPT"]
    return Config(
        task_id=env["OPTIO_TASK_ID"].strip(),
        attempt=_parse_int("OPTIO_ATTEMPT", env["OPTIO_ATTEMPT"].strip(), minimum=0),
        api_url=env["OPTIO_API_URL"].strip().rstrip("/"),
        run_token=env["OPTIO_RUN_TOKEN"].strip(),
        repo_url=env.get("OPTIO_REPO_URL", "").strip(),
        repo_branch=_optional(env, "OPTIO_REPO_BRANCH") or "main",
        branch_name=env.get("OPTIO_BRANCH_NAME", "").strip(),
        task_title=_optional(env, "OPTIO_TASK_TITLE") or _first_line(prompt),
        agent_type=env["OPTIO_AGENT_TYPE"].strip(),
        prompt=prompt,
        max_turns=_int(env, "OPTIO_MAX_TURNS", 250, minimum=1),
        model=_optional(env, "OPTIO_MODEL"),
        resume_session_id=_optional(env, "OPTIO_RESUME_SESSION_ID"),
        reset_branch=env.get("OPTIO_RESET_BRANCH") == "1",
        setup_commands=_setup_commands(env),
        custom_command=_optional(env, "OPTIO_CUSTOM_COMMAND"),
        heartbeat_interval_s=_int(env, "OPTIO_HEARTBEAT_INTERVAL_MS", 30000, minimum=1) / 1000,
        log_flush_s=_int(env, "OPTIO_LOG_FLUSH_MS", 500, minimum=1) / 1000,
        budget_usd=_budget(env),
        workspace=Path(_optional(env, "OPTIO_WORKSPACE") or os.getcwd()).resolve(),
        run_kind=run_kind,
        agent_offline=env.get("OPTIO_AGENT_NETWORK") == "none",
        agent_bin_overrides={
            name: value for name, value in env.items() if name.startswith(AGENT_BIN_PREFIX) and value
        },
        connections=_connections(env),
        child_env={name: value for name, value in env.items() if name not in PRIVATE_VARIABLES},
    )


def _connections(env: Mapping[str, str]) -> tuple[Mapping[str, Any], ...]:
    try:
        return parse_connections(env.get("OPTIO_CONNECTIONS"))
    except ValueError as exc:
        raise ConfigError(f"OPTIO_CONNECTIONS: {exc}") from None


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    raw = _optional(env, name)
    return default if raw is None else _parse_int(name, raw, minimum=minimum)


def _parse_int(name: str, raw: str, *, minimum: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _budget(env: Mapping[str, str]) -> float | None:
    raw = _optional(env, "OPTIO_BUDGET_USD")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"OPTIO_BUDGET_USD must be a number, got {raw!r}") from None
    if not value > 0:
        raise ConfigError(f"OPTIO_BUDGET_USD must be more than 0, got {raw}")
    return value


def _setup_commands(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = _optional(env, "OPTIO_SETUP_COMMANDS")
    if raw is None:
        return ()
    try:
        commands = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"OPTIO_SETUP_COMMANDS is not valid JSON: {exc}") from None
    if not isinstance(commands, list) or not all(isinstance(c, str) for c in commands):
        raise ConfigError("OPTIO_SETUP_COMMANDS must be a JSON list of strings")
    return tuple(c for c in commands if c.strip())


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:72]
    return "task"
