"""The PR decisions (SPEC §8), replayed over recorded sequences of observations: each sequence
is what a watcher polling every few seconds (and a webhook) saw, and the acted-on key is carried
from one decision to the next as the engine stores it."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from chalicelib.core.actions import Action, Effect, LaunchReview, MergePr, Noop, Transition
from chalicelib.core.pull_requests import (
    CheckRun,
    ChecksStatus,
    CommitStatus,
    FailingCheck,
    PrPolicy,
    PrState,
    PrView,
    ReviewNote,
    ReviewStatus,
    ci_verdict,
    decide_pr,
    feedback_prompt,
    from_fields,
    is_final,
    observed_fields,
    same_observation,
)
from chalicelib.core.reconcile import ExecutionView, Limits, Snapshot, decide
from chalicelib.core.states import ExecutionKind, State

S = State
C = ChecksStatus
NOW = datetime(2026, 1, 1, tzinfo=UTC)

OPEN = PrView(state=PrState.OPEN, checks=ChecksStatus.PENDING, head_sha="a1", mergeable=True)
FAILING = replace(OPEN, checks=ChecksStatus.FAILING, failing_checks=(FailingCheck("unit-tests", "AssertionError in test_x"),))
PASSING = replace(OPEN, checks=ChecksStatus.PASSING)


def replay(observations: list[PrView | None], policy: PrPolicy) -> list[Action]:
    """Decide on each observation in turn, applying what the engine would store."""
    acted_on: str | None = None
    taken: list[Action] = []
    for pr in observations:
        action = decide_pr(pr, acted_on, policy)
        taken.append(action)
        if isinstance(action, Transition) and "prActedOn" in action.changes:
            acted_on = str(action.changes["prActedOn"])
            if "autoResumeCount" in action.changes:
                policy = replace(policy, auto_resumes=int(str(action.changes["autoResumeCount"])))
        if isinstance(action, MergePr):
            acted_on = action.acted_on
        if isinstance(action, LaunchReview):  # the engine creates a blocking review subtask
            policy = replace(policy, review_launched=True, blockers_done=False)
    return taken


def acting(actions: list[Action]) -> list[Action]:
    return [a for a in actions if not isinstance(a, Noop)]


def test_merged_completes_and_closes_the_issue() -> None:
    action = decide_pr(replace(OPEN, state=PrState.MERGED), None, PrPolicy())
    assert isinstance(action, Transition) and action.to is S.COMPLETED and action.effect is Effect.CLOSE_ISSUE
    assert action.changes == {"prActedOn": "merged"}


def test_closed_unmerged_fails_for_good() -> None:
    action = decide_pr(replace(OPEN, state=PrState.CLOSED), None, PrPolicy())
    assert isinstance(action, Transition) and action.to is S.FAILED and action.effect is None
    assert action.changes["retryable"] is False and action.changes["errorKind"] == "pr_closed"
    assert action.changes["prActedOn"] == "closed"


def test_not_observed_yet_waits() -> None:
    assert isinstance(decide_pr(None, None, PrPolicy()), Noop)


def test_failing_checks_seen_many_times_resume_once_with_the_failure() -> None:
    policy = PrPolicy(auto_resume=True, max_auto_resumes=3)
    actions = acting(replay([OPEN, FAILING, FAILING, FAILING, FAILING], policy))
    assert len(actions) == 1
    resume = actions[0]
    assert isinstance(resume, Transition) and resume.to is S.QUEUED
    assert resume.changes["resumeSession"] is True and resume.changes["autoResumeCount"] == 1
    prompt = str(resume.changes["nextPrompt"])
    assert "unit-tests" in prompt and "AssertionError in test_x" in prompt


def test_a_new_push_that_fails_again_resumes_again_until_the_cap() -> None:
    policy = PrPolicy(auto_resume=True, max_auto_resumes=2)
    pushes = [replace(FAILING, head_sha=f"s{i}") for i in range(3)]
    actions = acting(replay([p for p in pushes for _ in range(2)], policy))
    assert [a.to for a in actions if isinstance(a, Transition)] == [S.QUEUED, S.QUEUED, S.NEEDS_ATTENTION]
    last = actions[-1]
    assert isinstance(last, Transition) and "2 automatic resumes used" in last.reason
    # Stopped at the cap: the pull request is told; earlier resumes say nothing there.
    assert last.effect is Effect.COMMENT_ON_PR
    assert all(a.effect is None for a in actions[:-1] if isinstance(a, Transition))


def test_auto_resume_off_asks_a_person() -> None:
    actions = acting(replay([FAILING, FAILING], PrPolicy(auto_resume=False)))
    assert len(actions) == 1
    assert isinstance(actions[0], Transition) and actions[0].to is S.NEEDS_ATTENTION
    assert actions[0].effect is None  # nobody stopped resuming: there were none


def test_changes_requested_resumes_with_file_and_line() -> None:
    review = replace(PASSING, review=ReviewStatus.CHANGES_REQUESTED, review_id="r1",
                     review_notes=(ReviewNote("src/app.py", 12, "handle None here"),))
    actions = acting(replay([PASSING, review, review], PrPolicy(auto_resume=True)))
    assert len(actions) == 1
    assert isinstance(actions[0], Transition)
    assert "src/app.py:12: handle None here" in str(actions[0].changes["nextPrompt"])
    # A second review asking for more acts again.
    second = replace(review, review_id="r2")
    assert isinstance(decide_pr(second, "changes_requested@r1", PrPolicy(auto_resume=True)), Transition)


def test_merge_conflict_resumes() -> None:
    conflict = replace(PASSING, mergeable=False)
    action = decide_pr(conflict, None, PrPolicy(auto_resume=True, auto_merge=True))
    assert isinstance(action, Transition) and action.to is S.QUEUED
    assert "Merge conflict" in str(action.changes["nextPrompt"])


def test_passing_with_auto_merge_merges_once_then_merged_completes() -> None:
    policy = PrPolicy(auto_merge=True)
    actions = acting(replay([OPEN, PASSING, PASSING, replace(PASSING, state=PrState.MERGED)], policy))
    assert isinstance(actions[0], MergePr) and actions[0].acted_on == "merge@a1"
    assert isinstance(actions[1], Transition) and actions[1].to is S.COMPLETED
    assert len(actions) == 2


def test_no_merge_without_auto_merge_or_with_blocking_subtasks() -> None:
    assert isinstance(decide_pr(PASSING, None, PrPolicy(auto_merge=False)), Noop)
    assert isinstance(decide_pr(PASSING, None, PrPolicy(auto_merge=True, blockers_done=False)), Noop)
    assert isinstance(decide_pr(replace(PASSING, mergeable=None), None, PrPolicy(auto_merge=True)), Noop)
    changes = replace(PASSING, review=ReviewStatus.CHANGES_REQUESTED, review_id="r1")
    assert not isinstance(decide_pr(changes, "changes_requested@r1", PrPolicy(auto_merge=True)), MergePr)


def test_full_feedback_loop_fails_then_passes_then_merges() -> None:
    policy = PrPolicy(auto_resume=True, auto_merge=True, max_auto_resumes=3)
    fixed = replace(PASSING, head_sha="b2")
    sequence: list[PrView | None] = [None, OPEN, FAILING, FAILING, replace(OPEN, head_sha="b2"), fixed,
                                     replace(fixed, state=PrState.MERGED)]
    kinds = [type(a).__name__ + (f":{a.to.value}" if isinstance(a, Transition) else "")
             for a in acting(replay(sequence, policy))]
    assert kinds == ["Transition:queued", "MergePr", "Transition:completed"]


def test_decide_routes_pr_opened_tasks_to_the_pr_decision() -> None:
    task = ExecutionView(id="t", kind=ExecutionKind.REPO_TASK, state=S.PR_OPENED, version=3, attempt=1,
                         retry_count=0, max_retries=3, created_at=NOW, updated_at=NOW)
    limits = Limits(stall_threshold=NOW - NOW, provision_timeout=NOW - NOW)
    snap = Snapshot(execution=task, pod=None, limits=limits, pr=replace(OPEN, state=PrState.MERGED))
    action = decide(snap, NOW)
    assert isinstance(action, Transition) and action.to is S.COMPLETED


def test_feedback_prompt_names_everything() -> None:
    pr = replace(FAILING, mergeable=False, review=ReviewStatus.CHANGES_REQUESTED,
                 review_notes=(ReviewNote(None, None, "please add tests"),))
    text = feedback_prompt(pr)
    assert "Merge conflict" in text and "unit-tests" in text and "general: please add tests" in text


def kinds_of(actions: list[Action]) -> list[str]:
    return [type(a).__name__ + (f":{a.to.value}" if isinstance(a, Transition) else "") for a in acting(actions)]


def test_review_on_pr_launches_once_when_the_pr_opens_and_holds_the_merge() -> None:
    policy = PrPolicy(auto_merge=True, review_trigger="on_pr")
    assert kinds_of(replay([OPEN, OPEN, PASSING, PASSING], policy)) == ["LaunchReview"]


def test_review_on_ci_pass_waits_for_passing_checks_then_launches_once() -> None:
    policy = PrPolicy(auto_merge=True, review_trigger="on_ci_pass")
    actions = replay([OPEN, FAILING, OPEN, PASSING, PASSING], replace(policy, auto_resume=True))
    assert kinds_of(actions) == ["Transition:queued", "LaunchReview"]
    assert "checks passing" in acting(actions)[1].reason


def test_a_finished_review_lets_the_merge_go_ahead() -> None:
    done = PrPolicy(auto_merge=True, review_trigger="on_ci_pass", review_launched=True, blockers_done=True)
    assert isinstance(decide_pr(PASSING, None, done), MergePr)
    assert isinstance(decide_pr(PASSING, None, replace(done, review_trigger=None, review_launched=False)), MergePr)


RED_RUN = CheckRun("unit", "completed", "failure", "2 failed")
GREEN_RUN = CheckRun("lint", "completed", "success")
RUNNING = CheckRun("e2e", "in_progress", None)
RED = CommitStatus("ci/jenkins", "failure", "Build #12 failed", "https://ci.example.com/12")
GREEN = CommitStatus("ci/jenkins", "success", "Build #13 passed", "https://ci.example.com/13")
WAITING = CommitStatus("ci/circle", "pending", "Running")


@pytest.mark.parametrize("runs,combined,statuses,verdict,failing", [
    ([], None, [], C.NONE, []),
    ([GREEN_RUN], None, [], C.PASSING, []),
    ([], "success", [GREEN], C.PASSING, []),
    ([GREEN_RUN], "success", [GREEN], C.PASSING, []),
    ([RUNNING], "success", [GREEN], C.PENDING, []),
    ([GREEN_RUN], "pending", [GREEN, WAITING], C.PENDING, []),
    ([], "failure", [RED], C.FAILING, [("ci/jenkins", "Build #12 failed", "https://ci.example.com/12")]),
    ([GREEN_RUN], "failure", [RED, WAITING], C.FAILING, [("ci/jenkins", "Build #12 failed", "https://ci.example.com/12")]),
    ([RED_RUN], "success", [GREEN], C.FAILING, [("unit", "2 failed", "")]),
    ([RED_RUN, RUNNING], "error", [replace(RED, state="error")], C.FAILING,
     [("unit", "2 failed", ""), ("ci/jenkins", "Build #12 failed", "https://ci.example.com/12")]),
    # The failing context is past the first page of statuses: the combined state still fails.
    ([], "failure", [GREEN], C.FAILING, [("commit status", "the combined status is failure", "")]),
])
def test_check_runs_and_commit_statuses_decide_ci_together(
        runs: list[CheckRun], combined: str | None, statuses: list[CommitStatus], verdict: ChecksStatus,
        failing: list[tuple[str, str, str]]) -> None:
    checks, failed = ci_verdict(runs, combined, statuses)
    assert checks is verdict and [(c.name, c.output, c.url) for c in failed] == failing


def test_a_failing_status_is_quoted_with_its_description_and_target_url_and_survives_the_row() -> None:
    pr = replace(OPEN, checks=ChecksStatus.FAILING, failing_checks=(
        FailingCheck("ci/jenkins", "Build #12 failed", "https://ci.example.com/12"), FailingCheck("unit", "boom")))
    prompt = feedback_prompt(pr)
    assert "- ci/jenkins:\nBuild #12 failed\n  Details: https://ci.example.com/12" in prompt
    assert "- unit:\nboom\n" in prompt + "\n" and prompt.count("Details:") == 1
    fields = observed_fields(pr, "2026-01-01T00:00:00Z")
    assert from_fields("open", "failing", "pending", fields["prDetails"]) == pr


def test_an_observation_survives_the_row_as_its_members() -> None:
    pr = replace(PASSING, review=ReviewStatus.CHANGES_REQUESTED, review_id="42",
                 review_notes=(ReviewNote("a.py", 3, "why?"), ReviewNote(None, None, "general")))
    fields = observed_fields(pr, "2026-01-01T00:00:00Z")
    assert (fields["prState"], fields["prChecksStatus"], fields["prReviewStatus"]) == (
        "open", "passing", "changes_requested")
    back = from_fields("open", "passing", "changes_requested", fields["prDetails"])
    assert back == pr and back is not None
    assert back.state is PrState.OPEN and back.checks is C.PASSING and back.review is ReviewStatus.CHANGES_REQUESTED
    assert same_observation(pr, fields) and not same_observation(replace(pr, head_sha="zz"), fields)


@pytest.mark.parametrize("state,checks,review,expected", [
    (None, None, None, None),
    ("", "passing", "approved", None),
    # A state we do not know (written by another version) is no observation at all.
    ("draft", "passing", "approved", None),
    ("merged", None, None, PrView(PrState.MERGED)),
    # Statuses we do not know read as the defaults.
    ("open", "exploded", "shrugged", PrView(PrState.OPEN)),
    ("closed", "failing", "approved", PrView(PrState.CLOSED, C.FAILING, ReviewStatus.APPROVED)),
])
def test_from_fields_reads_only_what_it_knows(state: str | None, checks: str | None, review: str | None,
                                              expected: PrView | None) -> None:
    assert from_fields(state, checks, review, None) == expected


def test_only_a_merged_pull_request_is_final() -> None:
    assert is_final("merged") and not is_final("closed") and not is_final("open") and not is_final(None)
