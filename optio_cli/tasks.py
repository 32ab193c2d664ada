"""`optio tasks`: create, list, show, follow and act on repo tasks."""
from __future__ import annotations

from typing import Any

import click

from . import follow as following
from .client import segment
from .context import State, pass_state
from .follow import Subject
from .output import created, fields, json_option, show, table
from .params import drop_none, repo_ref, text_or_stdin

STATES = ("pending", "waiting_on_deps", "queued", "provisioning", "running", "needs_attention", "pr_opened",
          "completed", "failed", "cancelled")
TASK_COLUMNS = ("id", "state", "costUsd", "createdAt", "title")
TASK_FIELDS = ("id", "title", "type", "state", "repoUrl", "repoBranch", "branchName", "agentType", "model",
               "priority", "retryCount", "maxRetries", "prUrl", "prState", "prChecksStatus", "prReviewStatus",
               "costUsd", "inputTokens", "outputTokens", "modelUsed", "errorMessage", "resultSummary", "createdAt",
               "startedAt", "completedAt", "parentId", "dependsOn", "metadata")


def show_task(task: dict[str, Any]) -> None:
    fields(task, TASK_FIELDS)


def task_path(task_id: str, action: str = "") -> str:
    return f"/api/tasks/{segment(task_id)}{action}"


def act(state: State, task_id: str, action: str, as_json: bool, body: dict[str, Any] | None = None) -> None:
    task = state.client.post(task_path(task_id, action), body)
    show(task, as_json, lambda t: click.echo(f"{t['id']} {t['state']}"))


@click.group()
def tasks() -> None:
    """Repo tasks: an agent working on a repository."""


@tasks.command("create")
@click.option("--title", required=True)
@click.option("--prompt", required=True, help="What the agent should do; `-` reads it from stdin.")
@click.option("--repo", required=True, help="A registered repository's id, or a URL (registered if new).")
@click.option("--branch", help="The base branch (default: the repository's).")
@click.option("--agent", "agent_type", help="claude-code, codex, copilot, gemini, opencode, ...")
@click.option("--model")
@click.option("--priority", type=click.IntRange(0, 1000), help="Lower starts first.")
@click.option("--max-retries", type=click.IntRange(0))
@click.option("--depends-on", multiple=True, metavar="TASK_ID", help="Wait for this task (repeatable).")
@click.option("--follow", "-f", is_flag=True, help="Then follow its logs until the agent is done.")
@json_option
@pass_state
def tasks_create(state: State, title: str, prompt: str, repo: str, branch: str | None, agent_type: str | None,
                 model: str | None, priority: int | None, max_retries: int | None, depends_on: tuple[str, ...],
                 follow: bool, as_json: bool) -> None:
    """Create a task; prints its id (the task with --json; its logs with --follow)."""
    body = drop_none(title=title, prompt=text_or_stdin(prompt), repoBranch=branch, agentType=agent_type,
                     model=model, priority=priority, maxRetries=max_retries,
                     dependsOn=list(depends_on) or None, **repo_ref(repo))
    task = state.client.post("/api/tasks", body)
    if follow:
        created(task["id"], following=True)
        _follow(state, task["id"], 0, as_json)
    else:
        show(task, as_json, lambda t: created(t["id"], following=False))


@tasks.command("list")
@click.option("--state", "task_state", type=click.Choice(STATES))
@click.option("--type", "task_type", type=click.Choice(["repo-task", "repo-blueprint", "standalone", "all"]),
              default="repo-task", show_default=True)
@click.option("--repo", "repo_id", metavar="REPO_ID")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@click.option("--all", "every", is_flag=True, help="Every page, not only the first LIMIT.")
@click.option("--mine", is_flag=True, help="Only the tasks this sign-in or key created (createdBy=me).")
@json_option
@pass_state
def tasks_list(state: State, task_state: str | None, task_type: str, repo_id: str | None, limit: int,
               every: bool, mine: bool, as_json: bool) -> None:
    """Tasks, newest first."""
    items = list(state.client.pages("/api/tasks", None if every else limit, type=task_type, state=task_state,
                                    repoId=repo_id, createdBy="me" if mine else None))
    show(items, as_json, lambda rows: table(rows, TASK_COLUMNS, empty="no tasks"))


@tasks.command("show")
@click.argument("task_id")
@json_option
@pass_state
def tasks_show(state: State, task_id: str, as_json: bool) -> None:
    """One task."""
    show(state.client.get(task_path(task_id)), as_json, show_task)


@tasks.command("logs")
@click.argument("task_id")
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the agent is done, with its progress.")
@click.option("--after", type=click.IntRange(0), default=0, help="Only lines after this sequence number.")
@json_option
@pass_state
def tasks_logs(state: State, task_id: str, follow: bool, after: int, as_json: bool) -> None:
    """The agent's log lines (one JSON object per line with --json)."""
    _follow(state, task_id, after, as_json, keep_going=follow)


def _follow(state: State, task_id: str, after: int, as_json: bool, keep_going: bool = True) -> None:
    following.follow(state.client, Subject.task(task_id), after, as_json, keep_going)


@tasks.command("events")
@click.argument("task_id")
@json_option
@pass_state
def tasks_events(state: State, task_id: str, as_json: bool) -> None:
    """Every state change of the task."""
    items = state.client.get(task_path(task_id, "/events"))["items"]
    show(items, as_json, lambda rows: table(rows, ("at", "from", "to", "trigger", "message")))


@tasks.command("cancel")
@click.argument("task_id")
@json_option
@pass_state
def tasks_cancel(state: State, task_id: str, as_json: bool) -> None:
    """Cancel a queued or active task; its agent is stopped at once."""
    act(state, task_id, "/cancel", as_json)


@tasks.command("retry")
@click.argument("task_id")
@json_option
@pass_state
def tasks_retry(state: State, task_id: str, as_json: bool) -> None:
    """Queue a failed or cancelled task again, with its automatic retries back."""
    act(state, task_id, "/retry", as_json)


@tasks.command("resume")
@click.argument("task_id")
@click.option("--prompt", required=True, help="What to tell the agent; `-` reads it from stdin.")
@json_option
@pass_state
def tasks_resume(state: State, task_id: str, prompt: str, as_json: bool) -> None:
    """Continue the agent's previous session (needs_attention or failed tasks)."""
    act(state, task_id, "/resume", as_json, {"prompt": text_or_stdin(prompt)})


@tasks.command("restart")
@click.argument("task_id")
@click.option("--prompt", help="The new session's prompt (default: Optio writes one); `-` reads stdin.")
@json_option
@pass_state
def tasks_restart(state: State, task_id: str, prompt: str | None, as_json: bool) -> None:
    """A fresh agent session on the task's branch (a running agent is stopped first)."""
    act(state, task_id, "/force-restart", as_json, drop_none(prompt=prompt and text_or_stdin(prompt)))


@tasks.command("redo")
@click.argument("task_id")
@json_option
@pass_state
def tasks_redo(state: State, task_id: str, as_json: bool) -> None:
    """Start over: result, cost and logs cleared, the branch restarted from the base branch."""
    act(state, task_id, "/force-redo", as_json)


@tasks.command("delete")
@click.argument("task_id")
@pass_state
def tasks_delete(state: State, task_id: str) -> None:
    """Delete a task with its logs and comments (not while its agent runs)."""
    state.client.request("DELETE", task_path(task_id))
