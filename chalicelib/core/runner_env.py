"""The environment one attempt's runner gets (SPEC §9): everything it needs, nothing it can
learn by itself, and no secret values of ours (those come as separate secrets)."""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RunnerInput:
    task_id: str
    attempt: int
    title: str
    prompt: str
    repo_url: str
    repo_branch: str
    branch_name: str
    agent_type: str
    max_turns: int
    model: str | None
    setup_commands: Sequence[str]
    custom_command: str | None
    resume_session_id: str | None
    heartbeat_interval_ms: int
    # A redo starts the branch again from the base branch instead of building on it.
    reset_branch: bool = False
    # Where the runner opens the pull request (SPEC §8), and the issue it closes.
    github_api_url: str | None = None
    issue_number: int | None = None


def runner_environment(given: RunnerInput, api_url: str, run_token: str) -> dict[str, str]:
    env = {
        "OPTIO_TASK_ID": given.task_id,
        "OPTIO_ATTEMPT": str(given.attempt),
        "OPTIO_API_URL": api_url,
        "OPTIO_RUN_TOKEN": run_token,
        "OPTIO_TASK_TITLE": given.title,
        "OPTIO_PROMPT": given.prompt,
        "OPTIO_REPO_URL": given.repo_url,
        "OPTIO_REPO_BRANCH": given.repo_branch,
        "OPTIO_BRANCH_NAME": given.branch_name,
        "OPTIO_AGENT_TYPE": given.agent_type,
        "OPTIO_MAX_TURNS": str(given.max_turns),
        "OPTIO_HEARTBEAT_INTERVAL_MS": str(given.heartbeat_interval_ms),
    }
    if given.model:
        env["OPTIO_MODEL"] = given.model
    if given.setup_commands:
        env["OPTIO_SETUP_COMMANDS"] = json.dumps(list(given.setup_commands))
    if given.custom_command:
        env["OPTIO_CUSTOM_COMMAND"] = given.custom_command
    if given.resume_session_id:
        env["OPTIO_RESUME_SESSION_ID"] = given.resume_session_id
    if given.reset_branch:
        env["OPTIO_RESET_BRANCH"] = "1"
    if given.github_api_url:
        env["OPTIO_GITHUB_API_URL"] = given.github_api_url
    if given.issue_number is not None:
        env["OPTIO_ISSUE_NUMBER"] = str(given.issue_number)
    return env
