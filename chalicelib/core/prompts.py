"""Prompts Optio writes itself: the context of a forced restart, the brief of a review."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskContext:
    title: str
    prompt: str
    branch_name: str
    pr_url: str | None = None
    checks_status: str | None = None
    review_status: str | None = None
    last_error: str | None = None


def restart_prompt(task: TaskContext) -> str:
    """What a fresh agent session on the task's branch needs to know, from what Optio knows."""
    lines = [task.prompt, "", f"Work continues on the existing branch `{task.branch_name}`."]
    if task.pr_url:
        lines.append(f"Its pull request is {task.pr_url}.")
    if task.checks_status == "failing":
        lines.append("CI checks are failing on the pull request: find out why and fix them.")
    if task.review_status == "changes_requested":
        lines.append("A reviewer requested changes on the pull request: address them.")
    if task.last_error:
        lines.append(f"The previous attempt ended with: {task.last_error}")
    return "\n".join(lines)


def review_prompt(task: TaskContext) -> str:
    target = task.pr_url or f"the branch `{task.branch_name}`"
    return (
        f"Review {target} for the task \"{task.title}\".\n\n"
        f"The task asked for:\n{task.prompt}\n\n"
        "Check correctness, tests, security and readability. Report what must change and what "
        "should, with file and line references; do not push changes yourself."
    )
