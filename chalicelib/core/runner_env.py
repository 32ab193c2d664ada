"""The environment one attempt's runner gets (SPEC §9): everything it needs, nothing it can
learn by itself, and no secret values of ours (those come as separate secrets)."""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

# The runner's name for a run of a standalone task: it works in a scratch directory (no clone,
# no push) and reports to the run's channel.
RUNNER_RUN_KIND = "workflow-run"


@dataclass(frozen=True)
class Repository:
    url: str
    base_branch: str
    branch_name: str
    custom_command: str | None = None
    resume_session_id: str | None = None
    # A redo starts the branch again from the base branch instead of building on it.
    reset_branch: bool = False
    # Where the runner opens the pull request (SPEC §8), and the issue it closes.
    github_api_url: str | None = None
    issue_number: int | None = None


@dataclass(frozen=True)
class RunnerInput:
    """One attempt's input; a run of a standalone task is the one without a repository."""

    execution_id: str
    attempt: int
    title: str
    prompt: str
    agent_type: str
    heartbeat_interval_ms: int
    max_turns: int | None = None
    model: str | None = None
    setup_commands: Sequence[str] = ()
    budget_usd: float | None = None
    # None for a run of a standalone task.
    repository: Repository | None = None


def runner_environment(given: RunnerInput, api_url: str, run_token: str) -> dict[str, str]:
    env = {
        "OPTIO_TASK_ID": given.execution_id,
        "OPTIO_ATTEMPT": str(given.attempt),
        "OPTIO_API_URL": api_url,
        "OPTIO_RUN_TOKEN": run_token,
        "OPTIO_TASK_TITLE": given.title,
        "OPTIO_PROMPT": given.prompt,
        "OPTIO_AGENT_TYPE": given.agent_type,
        "OPTIO_HEARTBEAT_INTERVAL_MS": str(given.heartbeat_interval_ms),
    }
    optional = {
        "OPTIO_MAX_TURNS": given.max_turns,
        "OPTIO_MODEL": given.model or None,
        "OPTIO_SETUP_COMMANDS": json.dumps(list(given.setup_commands)) if given.setup_commands else None,
        "OPTIO_BUDGET_USD": given.budget_usd,
    }
    repo = given.repository
    if repo is None:
        optional["OPTIO_RUN_KIND"] = RUNNER_RUN_KIND
    else:
        optional.update({
            "OPTIO_REPO_URL": repo.url,
            "OPTIO_REPO_BRANCH": repo.base_branch,
            "OPTIO_BRANCH_NAME": repo.branch_name,
            "OPTIO_CUSTOM_COMMAND": repo.custom_command or None,
            "OPTIO_RESUME_SESSION_ID": repo.resume_session_id or None,
            "OPTIO_RESET_BRANCH": "1" if repo.reset_branch else None,
            "OPTIO_GITHUB_API_URL": repo.github_api_url or None,
            "OPTIO_ISSUE_NUMBER": repo.issue_number,
        })
    env.update({name: str(value) for name, value in optional.items() if value is not None})
    return env
