"""What to do about a `pr_opened` task's pull request (SPEC §8), pure.

The PR watcher (and the GitHub webhook) write what they saw on the task row; the reconciler
reads it here. Each situation that asks for an action has a key naming exactly what was seen
(the head commit for a conflict or failing checks, the review for requested changes); the key
of the last situation acted on is stored on the task (`prActedOn`), apart from the observed
fields, so an edge acts once however often it is observed, and a new push or review acts again.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from .actions import Action, Effect, LaunchReview, MergePr, Noop, Transition, fail
from .failures import FailureKind
from .states import State

S = State


class PrState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    MERGED = "merged"


class ChecksStatus(StrEnum):
    NONE = "none"
    PENDING = "pending"
    PASSING = "passing"
    FAILING = "failing"


class ReviewStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"

FAILING_OUTPUT_MAX = 2000


@dataclass(frozen=True)
class FailingCheck:
    """A failing check run (its output), or a failing commit status (its description, and the
    target URL where its CI shows the details)."""

    name: str
    output: str = ""
    url: str = ""


# Check runs' conclusions that fail; commit statuses' states that fail.
FAILED_CONCLUSIONS = frozenset({"failure", "timed_out", "cancelled", "action_required", "startup_failure"})
FAILED_STATUS_STATES = frozenset({"failure", "error"})


@dataclass(frozen=True)
class CheckRun:
    name: str
    status: str  # queued | in_progress | completed (and GitHub's waiting, requested, pending)
    conclusion: str | None
    output: str = ""


@dataclass(frozen=True)
class CommitStatus:
    context: str
    state: str  # error | failure | pending | success
    description: str = ""
    target_url: str = ""


def ci_verdict(runs: list[CheckRun], combined_state: str | None,
               statuses: list[CommitStatus]) -> tuple[ChecksStatus, tuple[FailingCheck, ...]]:
    """What CI says of a commit, from its check runs and its combined commit status together:
    failing when either fails, pending while either runs, passing when something reported and
    all passed, none when nothing reported. `combined_state` is None when the commit has no
    statuses (GitHub then says `pending`, which would wait forever); it covers every context
    even when `statuses` holds only the first page of them."""
    failing = [FailingCheck(run.name, run.output) for run in runs
               if run.status == "completed" and run.conclusion in FAILED_CONCLUSIONS]
    failing += [FailingCheck(status.context, status.description, status.target_url) for status in statuses
                if status.state in FAILED_STATUS_STATES]
    if combined_state in FAILED_STATUS_STATES and not any(s.state in FAILED_STATUS_STATES for s in statuses):
        failing.append(FailingCheck("commit status", f"the combined status is {combined_state}"))
    if failing:
        return ChecksStatus.FAILING, tuple(failing)
    if any(run.status != "completed" for run in runs) or combined_state == "pending":
        return ChecksStatus.PENDING, ()
    if runs or combined_state is not None:
        return ChecksStatus.PASSING, ()
    return ChecksStatus.NONE, ()


@dataclass(frozen=True)
class ReviewNote:
    path: str | None
    line: int | None
    body: str


@dataclass(frozen=True)
class PrView:
    """One observation of a pull request."""

    state: PrState
    checks: ChecksStatus = ChecksStatus.NONE
    review: ReviewStatus = ReviewStatus.PENDING
    mergeable: bool | None = None
    head_sha: str = ""
    review_id: str | None = None  # the latest review that requested changes
    failing_checks: tuple[FailingCheck, ...] = ()
    review_notes: tuple[ReviewNote, ...] = ()


@dataclass(frozen=True)
class PrPolicy:
    """The repo's settings and the task's count of automatic resumes since a person acted."""

    auto_merge: bool = False
    auto_resume: bool = False
    max_auto_resumes: int = 3
    auto_resumes: int = 0
    # Subtasks that block the parent (steps, reviews) are all completed.
    blockers_done: bool = True
    # The repo's `reviewTrigger` when `reviewEnabled` (`on_pr` or `on_ci_pass`), else None.
    review_trigger: str | None = None
    # A review subtask exists already (launched automatically or by hand).
    review_launched: bool = False


def trouble_key(pr: PrView) -> str | None:
    """What in `pr` asks for the agent (or a person), as one key; None when nothing does."""
    parts = []
    if pr.mergeable is False:
        parts.append(f"conflict@{pr.head_sha}")
    if pr.checks is ChecksStatus.FAILING:
        parts.append(f"checks_failing@{pr.head_sha}")
    if pr.review is ReviewStatus.CHANGES_REQUESTED:
        parts.append(f"changes_requested@{pr.review_id or pr.head_sha}")
    return "+".join(parts) or None


def feedback_prompt(pr: PrView) -> str:
    """The context a resumed agent gets: what failed, with output, and where reviewers commented."""
    sections = ["Your pull request needs more work. Fix the following, commit and push to the same branch."]
    if pr.mergeable is False:
        sections.append("## Merge conflict\nThe branch conflicts with the base branch: merge or rebase "
                        "the base branch into it and resolve the conflicts.")
    if pr.checks is ChecksStatus.FAILING:
        lines = ["## Failing checks"]
        for check in pr.failing_checks:
            output = check.output.strip()[:FAILING_OUTPUT_MAX]
            lines.append(f"- {check.name}" + (f":\n{output}" if output else ""))
            if check.url:
                lines.append(f"  Details: {check.url}")
        sections.append("\n".join(lines))
    if pr.review is ReviewStatus.CHANGES_REQUESTED:
        lines = ["## Changes requested in review"]
        for note in pr.review_notes:
            where = f"{note.path}:{note.line}" if note.path and note.line else (note.path or "general")
            lines.append(f"- {where}: {note.body}")
        sections.append("\n".join(lines))
    return "\n\n".join(sections)


def decide_pr(pr: PrView | None, acted_on: str | None, policy: PrPolicy) -> Action:
    if pr is None:
        return Noop("waiting for the pull request to be observed")
    if pr.state is PrState.MERGED:
        return Transition(to=S.COMPLETED, reason="pull request merged",
                          changes={"prActedOn": "merged"}, effect=Effect.CLOSE_ISSUE)
    if pr.state is PrState.CLOSED:
        return fail(FailureKind.PR_CLOSED, "the pull request was closed without merging",
                    changes={"prActedOn": "closed"})
    key = trouble_key(pr)
    if key is not None:
        if key == acted_on:
            return Noop("pull request feedback already acted on")
        what = _trouble_words(pr)
        if policy.auto_resume and policy.auto_resumes < policy.max_auto_resumes:
            count = policy.auto_resumes + 1
            return Transition(
                to=S.QUEUED,
                reason=f"{what}: resuming the agent (automatic resume {count} of {policy.max_auto_resumes})",
                changes={"nextPrompt": feedback_prompt(pr), "resumeSession": True,
                         "autoResumeCount": count, "prActedOn": key},
            )
        why = "automatic resume is off" if not policy.auto_resume else (
            f"{policy.auto_resumes} automatic resumes used")
        return Transition(to=S.NEEDS_ATTENTION, reason=f"{what}; {why}",
                          changes={"prActedOn": key, "errorMessage": f"{what}; {why}"},
                          effect=Effect.COMMENT_ON_PR if policy.auto_resume else None)
    if policy.review_trigger == "on_pr" and not policy.review_launched:
        return LaunchReview("pull request opened; launching the review agent")
    if pr.checks is ChecksStatus.PENDING:
        return Noop("checks running")
    if policy.review_trigger == "on_ci_pass" and pr.checks is ChecksStatus.PASSING and not policy.review_launched:
        return LaunchReview("checks passing; launching the review agent")
    mergeable_now = pr.checks is ChecksStatus.PASSING and pr.review is not ReviewStatus.CHANGES_REQUESTED and pr.mergeable is not False
    if mergeable_now and policy.auto_merge:
        merge_key = f"merge@{pr.head_sha}"
        if acted_on == merge_key:
            return Noop("merge already attempted for this commit")
        if not policy.blockers_done:
            return Noop("checks passing; waiting for blocking subtasks before merging")
        if pr.mergeable is None:
            return Noop("checks passing; waiting for GitHub to compute mergeability")
        return MergePr(reason="checks passing; auto-merging (squash)", acted_on=merge_key)
    return Noop("pull request open")


def _trouble_words(pr: PrView) -> str:
    words = []
    if pr.mergeable is False:
        words.append("merge conflict")
    if pr.checks is ChecksStatus.FAILING:
        names = ", ".join(c.name for c in pr.failing_checks) or "checks"
        words.append(f"failing checks ({names})")
    if pr.review is ReviewStatus.CHANGES_REQUESTED:
        words.append("changes requested in review")
    return " and ".join(words)


def observed_fields(pr: PrView, observed_at: str) -> dict[str, object]:
    """The task row's fields for one observation (what the watcher writes)."""
    return {
        "prState": pr.state.value,
        "prChecksStatus": pr.checks.value,
        "prReviewStatus": pr.review.value,
        "prObservedAt": observed_at,
        "prDetails": {
            "headSha": pr.head_sha,
            "mergeable": pr.mergeable,
            "reviewId": pr.review_id,
            "failingChecks": [{"name": c.name, "output": c.output, **({"url": c.url} if c.url else {})}
                              for c in pr.failing_checks],
            "reviewNotes": [{"path": n.path, "line": n.line, "body": n.body} for n in pr.review_notes],
        },
    }


def is_final(pr_state: str | None) -> bool:
    """A merged pull request stays merged: no later look at GitHub can take that back (a webhook
    may tell us before the API shows it)."""
    return pr_state == PrState.MERGED.value


def same_observation(pr: PrView, fields: dict[str, object]) -> bool:
    """True when the row already says what `pr` says (the watcher then writes nothing)."""
    fresh = observed_fields(pr, "")
    return all(fields.get(k) == v for k, v in fresh.items() if k != "prObservedAt")


def from_fields(state: str | None, checks: str | None, review: str | None,
                details: object) -> PrView | None:
    """The observation stored on a task row; None when nobody has looked yet."""
    if state not in (PrState.OPEN, PrState.CLOSED, PrState.MERGED):
        return None
    raw = details if isinstance(details, dict) else {}
    mergeable = raw.get("mergeable")
    line_of = _int_or_none
    return PrView(
        state=PrState(state),
        checks=_member(ChecksStatus, checks, ChecksStatus.NONE),
        review=_member(ReviewStatus, review, ReviewStatus.PENDING),
        mergeable=mergeable if isinstance(mergeable, bool) else None,
        head_sha=str(raw.get("headSha") or ""),
        review_id=str(raw["reviewId"]) if raw.get("reviewId") else None,
        failing_checks=tuple(FailingCheck(str(c.get("name", "")), str(c.get("output") or ""), str(c.get("url") or ""))
                             for c in raw.get("failingChecks") or [] if isinstance(c, dict)),
        review_notes=tuple(ReviewNote(str(n["path"]) if n.get("path") else None, line_of(n.get("line")),
                                      str(n.get("body") or ""))
                           for n in raw.get("reviewNotes") or [] if isinstance(n, dict)),
    )


E = TypeVar("E", ChecksStatus, ReviewStatus)


def _member(enum: type[E], value: str | None, default: E) -> E:
    """A stored value as its member; what an older version wrote and we no longer know, the default."""
    try:
        return enum(value) if value else default
    except ValueError:
        return default


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None
