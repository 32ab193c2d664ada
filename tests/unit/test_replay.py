"""Recorded histories replayed through the decision code (Temporal-style replay tests).

Each history is a list of inputs as the engine met them, at a given time: the reconciler looking
(with what the launcher says of the agent, and the PR as observed), the dispatcher giving a slot,
a person's or a runner's request, a heartbeat. Every decision is folded into the row the way the
store writes it (`entry_changes`, then a new attempt's number and accounting when a slot is taken,
then the transition's own changes, then state/version/updatedAt), and the next decision reads the
view of that row. No clock, no store: the histories pin the sequence of states and actions.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.core import accounting
from chalicelib.core.actions import Action, Effect, Launch, Noop, StopAgent, Transition, WaitUntil
from chalicelib.core.dispatch import Capacity, Queued, plan_dispatch
from chalicelib.core.pull_requests import ChecksStatus, PrState, PrView
from chalicelib.core.reconcile import (
    ExecutionView,
    Limits,
    PodPhase,
    PodStatus,
    Report,
    Snapshot,
    decide,
    outcome,
)
from chalicelib.core.requests import Refused, Request, decide_request
from chalicelib.core.states import LIFECYCLES, ExecutionKind, State, can_transition, entry_changes, takes_slot
from chalicelib.core.timefmt import iso

S = State
K = ExecutionKind
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LIMITS = Limits(stall_threshold=timedelta(minutes=15), provision_timeout=timedelta(minutes=10))
ALIVE = PodStatus(PodPhase.RUNNING)
STARTING = PodStatus(PodPhase.PENDING)
GONE = PodStatus(PodPhase.NOT_FOUND)
PR = "https://github.com/a/b/pull/7"


# --- the inputs a history is made of --------------------------------------------------------


@dataclass(frozen=True)
class Look:
    """The reconciler looks at the execution: `decide`, with what the launcher and the watcher saw."""

    pod: PodStatus | None = None
    pr: PrView | None = None


@dataclass(frozen=True)
class Dispatch:
    """The dispatcher plans the queue and gives this execution its slot."""


@dataclass(frozen=True)
class Ask:
    """A person's or a runner's request; a report carries the runner's result."""

    request: Request
    report: Report | None = None
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Beat:
    """A heartbeat from the current attempt, with its running cost."""

    cost_usd: float | None = None


Input = Look | Dispatch | Ask | Beat


# --- the replayer ---------------------------------------------------------------------------


@dataclass
class Replay:
    kind: ExecutionKind
    row: dict[str, Any]
    budget_usd: float | None = None
    states: list[State] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    stops: list[int] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)

    def view(self) -> ExecutionView:
        """The row as decisions read it (as `store.executions.view` does)."""
        row = self.row

        def when(name: str) -> datetime | None:
            return datetime.fromisoformat(row[name]) if row.get(name) else None

        return ExecutionView(
            id=row["id"], kind=self.kind, state=S(row["state"]), version=row["version"], attempt=row["attempt"],
            retry_count=row.get("retryCount") or 0, max_retries=row["maxRetries"],
            created_at=datetime.fromisoformat(row["createdAt"]), updated_at=datetime.fromisoformat(row["updatedAt"]),
            started_at=when("startedAt"), completed_at=when("completedAt"), launched_at=when("launchedAt"),
            last_heartbeat_at=when("lastHeartbeatAt"), retryable=row.get("retryable") is not False,
            free_retry=bool(row.get("freeRetry")), cost_usd=row.get("costUsd"), budget_usd=self.budget_usd,
        )

    def fold(self, step: Transition, now: datetime) -> None:
        """Write one transition as the store does."""
        current = S(self.row["state"])
        assert can_transition(self.kind, current, step.to), f"{current} -> {step.to} is not allowed"
        fields: dict[str, Any] = dict(entry_changes(self.kind, current, step.to, iso(now)))
        if takes_slot(self.kind, current, step.to):
            fields["attempt"] = self.row["attempt"] + 1
            fields.update(accounting.attempt_start(self.row))
        fields.update(step.changes)
        fields.update(state=step.to.value, version=self.row["version"] + 1, updatedAt=iso(now))
        self.row.update(fields)
        if step.stop_agent:
            self.stops.append(self.row["attempt"])
        if step.effect is not None:
            self.effects.append(step.effect)

    def apply(self, action: Action, now: datetime) -> None:
        self.actions.append(name(action))
        if isinstance(action, Transition):
            self.fold(action, now)
        elif isinstance(action, Launch):
            assert action.attempt == self.row["attempt"]
            self.row["launchedAt"] = iso(now)
        elif isinstance(action, StopAgent):
            self.stops.append(action.attempt)
        else:
            assert isinstance(action, Noop | WaitUntil), action

    def feed(self, now: datetime, given: Input) -> None:
        if isinstance(given, Look):
            snapshot = Snapshot(execution=self.view(), pod=given.pod, limits=LIMITS, pr=given.pr)
            self.apply(decide(snapshot, now), now)
        elif isinstance(given, Dispatch):
            lifecycle = LIFECYCLES[self.kind]
            chosen = plan_dispatch([Queued(self.row["id"], "scope", 2)], Capacity(0, 5, {}))
            assert [c.id for c in chosen] == [self.row["id"]] and self.row["state"] == S.QUEUED.value
            self.apply(Transition(to=lifecycle.launch_state, reason="slot taken"), now)
        elif isinstance(given, Beat):
            assert decide_request(self.view(), Request.HEARTBEAT) == ()
            self.heartbeat(now, given.cost_usd)
        else:
            self.ask(now, given)
        self.states.append(S(self.row["state"]))

    def heartbeat(self, now: datetime, cost_usd: float | None = None) -> None:
        self.actions.append("heartbeat")
        self.row["lastHeartbeatAt"] = iso(now)
        if cost_usd is not None:
            self.row.update(accounting.with_attempt(self.row, {"costUsd": cost_usd}))

    def ask(self, now: datetime, given: Ask) -> None:
        target = None
        if given.report is not None:
            # As the runner's channel does: the report's cost is the attempt's own; the outcome
            # reads the execution's totals, and writes them with its changes.
            totals = accounting.with_attempt(self.row, {"costUsd": given.report.cost_usd})
            ended = outcome(self.kind, replace(given.report, cost_usd=totals.get("costUsd"),
                                               budget_usd=self.budget_usd))
            target = replace(ended, changes={**ended.changes, **totals})
        decided = decide_request(self.view(), given.request, changes=given.changes, target=target)
        assert not isinstance(decided, Refused), decided
        if given.request is Request.STARTED and self.kind is K.RUN:
            # A run's start is its first heartbeat.
            assert decided == ()
            self.heartbeat(now)
            return
        self.actions.append(f"{given.request.value}:" + ",".join(step.to.value for step in decided))
        for step in decided:
            self.fold(step, now)


def name(action: Action) -> str:
    return type(action).__name__ + (f":{action.to.value}" if isinstance(action, Transition) else "")


def replay(kind: ExecutionKind, history: Sequence[tuple[float, Input]], *, state: State, max_retries: int = 3,
           budget_usd: float | None = None) -> Replay:
    row: dict[str, Any] = {"id": "e1", "state": state.value, "version": 1, "attempt": 0, "retryCount": 0,
                           "maxRetries": max_retries, "createdAt": iso(T0), "updatedAt": iso(T0)}
    replayed = Replay(kind, row, budget_usd)
    last = -1.0
    for seconds, given in history:
        assert seconds >= last, "a history is in time order"
        last = seconds
        replayed.feed(T0 + timedelta(seconds=seconds), given)
    return replayed


# --- the histories --------------------------------------------------------------------------

MIN = 60.0


def test_a_repo_task_opens_its_pull_request_and_completes_when_it_is_merged() -> None:
    history: list[tuple[float, Input]] = [
        (0, Look()),                                    # pending, no dependencies -> queued
        (1, Dispatch()),                                # -> provisioning, attempt 1
        (2, Look(GONE)),                                # not launched yet -> Launch
        (10, Look(STARTING)),                           # launched, the pod is starting
        (30, Ask(Request.STARTED)),                     # the runner says its agent started
        (60, Beat(0.05)),
        (90, Look(ALIVE)),                              # heard from: running
        (4 * MIN, Ask(Request.REPORT, Report(True, None, None, changed=True, pushed=True, pr_url=PR,
                                             cost_usd=0.4))),
        (5 * MIN, Look(GONE)),                          # not observed yet
        (6 * MIN, Look(GONE, PrView(PrState.OPEN, ChecksStatus.PENDING, head_sha="a1"))),
        (9 * MIN, Look(GONE, PrView(PrState.OPEN, ChecksStatus.PASSING, head_sha="a1", mergeable=True))),
        (20 * MIN, Look(GONE, PrView(PrState.MERGED, ChecksStatus.PASSING, head_sha="a1"))),
        (21 * MIN, Look(None)),                         # completed: nothing more to do
    ]
    done = replay(K.REPO_TASK, history, state=S.PENDING)
    assert done.states == [S.QUEUED, S.PROVISIONING, S.PROVISIONING, S.PROVISIONING, S.RUNNING, S.RUNNING,
                           S.RUNNING, S.PR_OPENED, S.PR_OPENED, S.PR_OPENED, S.PR_OPENED, S.COMPLETED, S.COMPLETED]
    assert done.actions == [
        "Transition:queued", "Transition:provisioning", "Launch", "WaitUntil", "started:running", "heartbeat",
        "WaitUntil", "report:pr_opened", "Noop", "Noop", "Noop", "Transition:completed", "Noop",
    ]
    assert done.effects == [Effect.CLOSE_ISSUE] and done.stops == []
    row = done.row
    assert row["attempt"] == 1 and row["costUsd"] == 0.4 and row["prActedOn"] == "merged"
    assert row["startedAt"] == iso(T0 + timedelta(seconds=30)) and row["completedAt"] == iso(T0 + timedelta(minutes=20))


def test_a_run_whose_pod_crashed_is_retried_after_its_backoff_and_completes() -> None:
    crash = PodStatus(PodPhase.FAILED, "crash", "the runner exited with code 137")
    history: list[tuple[float, Input]] = [
        (0, Look()),                                    # queued: waits for a slot
        (1, Dispatch()),                                # -> running, attempt 1
        (2, Look(GONE)),                                # -> Launch
        (5, Ask(Request.STARTED)),                      # a run's start is its first heartbeat
        (60, Look(ALIVE)),
        (120, Beat(0.10)),
        (150, Look(crash)),                             # -> failed, retryable, the pod removed
        (151, Look(GONE)),                              # the backoff (5 s) is not over
        (155, Look(GONE)),                              # due: automatic retry 1 of 1
        (156, Dispatch()),                              # -> running, attempt 2
        (157, Look(GONE)),                              # -> Launch
        (160, Ask(Request.STARTED)),
        (200, Ask(Request.REPORT, Report(True, None, None, cost_usd=0.2))),
        (201, Look(None)),
    ]
    done = replay(K.RUN, history, state=S.QUEUED, max_retries=1)
    assert done.states == [S.QUEUED, S.RUNNING, S.RUNNING, S.RUNNING, S.RUNNING, S.RUNNING, S.FAILED, S.FAILED,
                           S.QUEUED, S.RUNNING, S.RUNNING, S.RUNNING, S.COMPLETED, S.COMPLETED]
    assert done.actions == [
        "Noop", "Transition:running", "Launch", "heartbeat", "WaitUntil", "heartbeat", "Transition:failed", "WaitUntil",
        "Transition:queued", "Transition:running", "Launch", "heartbeat", "report:completed", "Noop",
    ]
    row = done.row
    assert done.stops == [1]  # the crashed attempt's pod, never the second's
    assert row["attempt"] == 2 and row["retryCount"] == 1
    # The cost is the sum over the attempts: 0.10 spent by the first, 0.2 reported by the second.
    assert row["spentCostUsd"] == 0.10 and abs(row["costUsd"] - 0.30) < 1e-9
    # Entering the queue cleared the first attempt's error; the second ended clean.
    assert row["errorMessage"] is None and row["errorKind"] is None and row["retryable"] is True


def test_a_run_over_its_budget_is_stopped_and_failed_for_good() -> None:
    history: list[tuple[float, Input]] = [
        (0, Dispatch()),
        (1, Look(GONE)),                                # -> Launch
        (3, Ask(Request.STARTED)),
        (30, Beat(0.60)),
        (40, Look(ALIVE)),                              # within the budget
        (60, Beat(1.20)),                               # past it: the runner did not stop
        (61, Look(ALIVE)),                              # -> failed (budget), its agent stopped
        (62, Look(ALIVE)),                              # the agent still lives: stop it again
        (70, Look(GONE)),                               # gone: no retry for a spent budget
        (10 * MIN, Look(GONE)),
    ]
    done = replay(K.RUN, history, state=S.QUEUED, max_retries=3, budget_usd=1.0)
    assert done.states == [S.RUNNING, S.RUNNING, S.RUNNING, S.RUNNING, S.RUNNING, S.RUNNING, S.FAILED, S.FAILED,
                           S.FAILED, S.FAILED]
    assert done.actions == [
        "Transition:running", "Launch", "heartbeat", "heartbeat", "WaitUntil", "heartbeat", "Transition:failed",
        "StopAgent", "Noop", "Noop",
    ]
    assert done.stops == [1, 1]
    row = done.row
    assert row["errorKind"] == "budget" and row["retryable"] is False and row["retryCount"] == 0
    assert row["errorMessage"] == "budget exceeded: the agent's cost $1.2000 passed the budget $1.00"


def test_a_run_whose_final_report_passes_the_budget_fails_whatever_the_agent_said() -> None:
    history: list[tuple[float, Input]] = [
        (0, Dispatch()),
        (1, Look(GONE)),
        (3, Ask(Request.STARTED)),
        (30, Beat(0.9)),
        (40, Ask(Request.REPORT, Report(True, None, None, cost_usd=1.5))),
        (60, Look(GONE)),
    ]
    done = replay(K.RUN, history, state=S.QUEUED, budget_usd=1.0)
    assert done.states[-2:] == [S.FAILED, S.FAILED]
    assert done.actions[-2:] == ["report:failed", "Noop"]
    assert done.row["errorKind"] == "budget" and done.row["retryable"] is False and done.stops == []


def test_a_stalled_task_is_stopped_retried_and_completes() -> None:
    history: list[tuple[float, Input]] = [
        (0, Look()),                                    # -> queued
        (1, Dispatch()),                                # -> provisioning, attempt 1
        (2, Look(GONE)),                                # -> Launch
        (20, Ask(Request.STARTED)),                     # -> running
        (5 * MIN, Beat(0.2)),
        (10 * MIN, Look(ALIVE)),
        (20 * MIN, Look(ALIVE)),                        # silent for 15 min exactly: still fine
        (20 * MIN + 1, Look(ALIVE)),                    # -> failed (stalled), its agent stopped
        (20 * MIN + 2, Look(ALIVE)),                    # still alive: stopped again
        (20 * MIN + 3, Look(GONE)),                     # the backoff: due 5 s after it failed
        (20 * MIN + 6, Look(GONE)),                     # -> queued, automatic retry 1 of 3
        (20 * MIN + 7, Dispatch()),                     # -> provisioning, attempt 2
        (20 * MIN + 8, Look(GONE)),                     # -> Launch
        (20 * MIN + 9, Look(STARTING)),
        # A report before any `started`: the task goes through running.
        (25 * MIN, Ask(Request.REPORT, Report(True, None, None, changed=True, pushed=True, cost_usd=0.3))),
        (26 * MIN, Look(None)),
    ]
    done = replay(K.REPO_TASK, history, state=S.PENDING)
    assert done.states == [S.QUEUED, S.PROVISIONING, S.PROVISIONING, S.RUNNING, S.RUNNING, S.RUNNING, S.RUNNING,
                           S.FAILED, S.FAILED, S.FAILED, S.QUEUED, S.PROVISIONING, S.PROVISIONING, S.PROVISIONING,
                           S.COMPLETED, S.COMPLETED]
    assert done.actions == [
        "Transition:queued", "Transition:provisioning", "Launch", "started:running", "heartbeat", "WaitUntil",
        "WaitUntil", "Transition:failed", "StopAgent", "WaitUntil", "Transition:queued", "Transition:provisioning",
        "Launch", "WaitUntil", "report:running,completed", "Noop",
    ]
    row = done.row
    assert done.stops == [1, 1]
    assert row["attempt"] == 2 and row["retryCount"] == 1 and row["errorKind"] is None
    assert abs(row["costUsd"] - 0.5) < 1e-9  # 0.2 spent by the stalled attempt, 0.3 by the second


def test_an_evicted_run_is_retried_at_once_and_keeps_its_retries() -> None:
    evicted = PodStatus(PodPhase.FAILED, "evicted", "the node was drained")
    history: list[tuple[float, Input]] = [
        (0, Dispatch()),
        (1, Look(GONE)),
        (2, Ask(Request.STARTED)),
        (30, Look(evicted)),                            # -> failed, a free retry
        (30, Look(GONE)),                               # -> queued at once, no backoff, no retry used
        (31, Dispatch()),
        (32, Look(GONE)),
        (33, Ask(Request.STARTED)),
        (60, Ask(Request.REPORT, Report(True, None, None))),
    ]
    done = replay(K.RUN, history, state=S.QUEUED, max_retries=0)
    assert done.states == [S.RUNNING, S.RUNNING, S.RUNNING, S.FAILED, S.QUEUED, S.RUNNING, S.RUNNING, S.RUNNING,
                           S.COMPLETED]
    assert done.row["retryCount"] == 0 and done.row["attempt"] == 2 and done.row["freeRetry"] is None


def test_a_person_restarts_a_running_task_through_cancelled() -> None:
    history: list[tuple[float, Input]] = [
        (0, Look()),
        (1, Dispatch()),
        (2, Look(GONE)),
        (5, Ask(Request.STARTED)),
        (60, Ask(Request.FORCE_RESTART, changes={"nextPrompt": "start over"})),
        (61, Look(ALIVE)),                              # the old agent is still there: queued waits
        (62, Dispatch()),
        (63, Look(GONE)),                               # attempt 2 is launched
    ]
    done = replay(K.REPO_TASK, history, state=S.PENDING)
    assert done.states == [S.QUEUED, S.PROVISIONING, S.PROVISIONING, S.RUNNING, S.QUEUED, S.QUEUED,
                           S.PROVISIONING, S.PROVISIONING]
    assert done.actions[4] == "force-restart:cancelled,queued"
    assert done.stops == [1]
    assert done.row["attempt"] == 2 and done.row["nextPrompt"] == "start over"
