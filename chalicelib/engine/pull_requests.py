"""The executor's side of pull requests: what the snapshot of a `pr_opened` task holds, and the
GitHub work some actions need (squash-merge; closing the linked issue once merged)."""
from __future__ import annotations

from typing import Any

from chalicelib.core import pull_requests
from chalicelib.core.actions import MergePr
from chalicelib.core.states import State
from chalicelib.exceptions import NotFound
from chalicelib.observability import logger
from chalicelib.store import executions, repos
from chalicelib.store.models import ExecutionModel

from .clock import utcnow


def issue_number(task: ExecutionModel) -> int | None:
    """The GitHub issue a task came from (`metadata.issueNumber`), if any."""
    metadata: Any = task.metadata
    value = metadata.get("issueNumber") if isinstance(metadata, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def observed(task: ExecutionModel) -> pull_requests.PrView | None:
    return pull_requests.from_fields(task.prState, task.prChecksStatus, task.prReviewStatus, task.prDetails)


def policy(task: ExecutionModel) -> pull_requests.PrPolicy:
    try:
        repo = repos.get(str(task.repoId))
    except NotFound:
        return pull_requests.PrPolicy()
    children = executions.subtasks(task.id)
    blocking = [t for t in children if t.blocksParent]
    return pull_requests.PrPolicy(
        auto_merge=bool(repo.autoMerge),
        auto_resume=bool(repo.autoResume),
        max_auto_resumes=int(repo.maxAutoResumes),
        auto_resumes=int(task.autoResumeCount or 0),
        blockers_done=all(State(t.state) is State.COMPLETED for t in blocking),
        review_trigger=str(repo.reviewTrigger) if repo.reviewEnabled else None,
        review_launched=any(t.taskType == "review" for t in children),
    )


def merge(task: ExecutionModel, action: MergePr) -> bool:
    """Squash-merge; True when merged (the task is then completed by the next decision).
    Throttling leaves everything as it was, to be tried again; a refusal is recorded so the
    same commit is not tried again."""
    from chalicelib.forge.github import Forge, ForgeError, NotConfigured, Throttled, parse_pr_url

    where = parse_pr_url(task.prUrl or "")
    if where is None:
        return False
    try:
        Forge.connect().merge(where[0], where[1], task.title)
    except (Throttled, NotConfigured) as error:
        logger.info("pr.merge_deferred", extra={"taskId": task.id, "reason": str(error)})
        return False
    except ForgeError as error:
        logger.warning("pr.merge_refused", extra={"taskId": task.id, "reason": str(error)})
        executions.update(task, {"prActedOn": action.acted_on}, utcnow())
        return False
    logger.info("pr.merged", extra={"taskId": task.id, "prUrl": task.prUrl})
    executions.update(task, {"prActedOn": action.acted_on, "prState": pull_requests.PrState.MERGED.value}, utcnow())
    return True


def comment_on_pr(task: ExecutionModel, why: str) -> None:
    """Automatic resumes stopped at their cap: say so on the pull request. Best effort: the task
    waits for a person either way."""
    from chalicelib.forge.github import Forge, parse_pr_url

    found = parse_pr_url(str(task.prUrl or ""))
    if found is None:
        return
    full_name, number = found
    try:
        Forge.connect().comment(full_name, number, f"Optio stopped resuming task {task.id}: {why}. "
                                                   "Resume it from the dashboard or the API when ready.")
    except Exception:
        logger.exception("pr.comment_failed", extra={"taskId": task.id, "pr": number})


def close_linked_issue(task: ExecutionModel) -> None:
    """A merged PR closes the issue the task came from, with a comment. Best effort: the task
    is completed either way."""
    from chalicelib.forge.github import Forge, full_name_of

    number = issue_number(task)
    full_name = full_name_of(task.repoUrl)
    if number is None or full_name is None:
        return
    try:
        Forge.connect().close_issue(full_name, number, f"Fixed by {task.prUrl} (merged), via Optio.")
    except Exception:
        logger.exception("pr.close_issue_failed", extra={"taskId": task.id, "issue": number})
