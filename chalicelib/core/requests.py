"""What people and runners may ask of an execution, as data: for each kind and request, the
states it is allowed from, where it leads, what it sets and clears (Prefect's orchestration
rules). `decide_request` turns one request into the transitions the executor writes, or into a
refusal that names the state that forbids it."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from .actions import Transition
from .reconcile import ExecutionView
from .states import LIFECYCLES, ExecutionKind, State

S = State
K = ExecutionKind


class Request(StrEnum):
    CANCEL = "cancel"
    RETRY = "retry"
    RESUME = "resume"
    FORCE_RESTART = "force-restart"
    FORCE_REDO = "force-redo"
    REVIEW = "review"
    STARTED = "started"
    REPORT = "report"
    HEARTBEAT = "heartbeat"


class Trigger(StrEnum):
    """Who caused a transition, as recorded in its event."""

    API = "api"
    USER = "user"
    RUNNER = "runner"
    RECONCILER = "reconciler"
    DISPATCHER = "dispatcher"
    FORCE_RESTART = "force_restart"
    FORCE_REDO = "force_redo"
    MIGRATION = "migration"


@dataclass(frozen=True)
class Rule:
    allowed: frozenset[State]
    # None: the request changes no state (a heartbeat), or its target is decided elsewhere (a
    # report's outcome, given to `decide_request`).
    to: State | None
    trigger: Trigger
    message: str = ""
    changes: Mapping[str, object] = field(default_factory=dict)
    # From these states the request first passes through another (SPEC §3 has no direct edge).
    via: Mapping[State, State] = field(default_factory=dict)
    refusal: str = "cannot {request} a {state} {noun}"


@dataclass(frozen=True)
class Refused:
    message: str
    state: State


# A manual action gives the execution its automatic retries and resumes back.
_FRESH = {"retryCount": 0, "autoResumeCount": None}
# What a run of the agent left on a task, gone when it is redone from scratch.
RUN_RESULT_FIELDS = ("prUrl", "prNumber", "prState", "prChecksStatus", "prReviewStatus", "prActedOn",
                     "prObservedAt", "prDetails", "resultSummary", "costUsd", "inputTokens", "outputTokens",
                     "modelUsed", "sessionId", "commitSha")
_REQUEUE_FROM = frozenset({S.PENDING, S.WAITING_ON_DEPS, S.PROVISIONING, S.RUNNING, S.NEEDS_ATTENTION,
                           S.PR_OPENED, S.FAILED, S.CANCELLED})
# Only the reconciler takes a task out of `pending`; a request that comes first passes through
# `waiting_on_deps`, which the dispatcher never starts.
_OUT_OF_PENDING = {S.PENDING: S.WAITING_ON_DEPS}
# The only way from `running` back to the queue is through `cancelled` (SPEC §3).
_OUT_OF_RUNNING = {S.RUNNING: S.CANCELLED, **_OUT_OF_PENDING}

RULES: dict[tuple[ExecutionKind, Request], Rule] = {
    (K.REPO_TASK, Request.CANCEL): Rule(
        allowed=frozenset({S.PENDING, S.WAITING_ON_DEPS, S.QUEUED, S.PROVISIONING, S.RUNNING,
                           S.NEEDS_ATTENTION, S.PR_OPENED}),
        to=LIFECYCLES[K.REPO_TASK].cancelled_state, trigger=Trigger.USER, message="cancelled by user",
        via=_OUT_OF_PENDING),
    (K.RUN, Request.CANCEL): Rule(
        allowed=frozenset({S.QUEUED, S.RUNNING}), to=LIFECYCLES[K.RUN].cancelled_state, trigger=Trigger.USER,
        message="Cancelled by user",
        changes={"errorMessage": "Cancelled by user", "errorKind": "cancelled", "retryable": False}),
    (K.REPO_TASK, Request.RETRY): Rule(
        allowed=frozenset({S.FAILED, S.CANCELLED}), to=S.QUEUED, trigger=Trigger.USER,
        message="retried by user", changes={**_FRESH, "nextPrompt": None, "resumeSession": None},
        refusal="only failed or cancelled tasks can be retried, not {state}"),
    (K.RUN, Request.RETRY): Rule(
        allowed=frozenset({S.FAILED}), to=S.QUEUED, trigger=Trigger.USER, message="retried by user",
        changes={"retryCount": 0}),
    (K.REPO_TASK, Request.RESUME): Rule(
        allowed=frozenset({S.NEEDS_ATTENTION, S.FAILED}), to=S.QUEUED, trigger=Trigger.USER,
        message="resumed with new context", changes={**_FRESH, "resumeSession": True, "resetBranch": None}),
    (K.REPO_TASK, Request.FORCE_RESTART): Rule(
        allowed=_REQUEUE_FROM, to=S.QUEUED, trigger=Trigger.FORCE_RESTART,
        message="restarted with a fresh agent session",
        changes={**_FRESH, "resumeSession": None, "resetBranch": None}, via=_OUT_OF_RUNNING),
    (K.REPO_TASK, Request.FORCE_REDO): Rule(
        allowed=_REQUEUE_FROM, to=S.QUEUED, trigger=Trigger.FORCE_REDO, message="redo from scratch",
        changes={**_FRESH, **{name: None for name in RUN_RESULT_FIELDS}, "nextPrompt": None,
                 "resumeSession": None, "resetBranch": True},
        via=_OUT_OF_RUNNING),
    (K.REPO_TASK, Request.REVIEW): Rule(
        allowed=frozenset(set(S) - {S.COMPLETED}), to=None, trigger=Trigger.USER,
        refusal="a {state} task takes no more subtasks"),
    (K.REPO_TASK, Request.STARTED): Rule(
        allowed=frozenset({S.PROVISIONING, S.RUNNING}), to=S.RUNNING, trigger=Trigger.RUNNER,
        message="agent started", refusal="this attempt is no longer current"),
    (K.RUN, Request.STARTED): Rule(
        allowed=frozenset({S.RUNNING}), to=None, trigger=Trigger.RUNNER,
        refusal="this attempt is no longer current"),
    (K.REPO_TASK, Request.REPORT): Rule(
        allowed=frozenset({S.PROVISIONING, S.RUNNING}), to=None, trigger=Trigger.RUNNER,
        via={S.PROVISIONING: S.RUNNING}, refusal="this attempt is no longer current"),
    (K.RUN, Request.REPORT): Rule(
        allowed=frozenset({S.RUNNING}), to=None, trigger=Trigger.RUNNER,
        refusal="this attempt is no longer current"),
    (K.REPO_TASK, Request.HEARTBEAT): Rule(
        allowed=frozenset({S.RUNNING}), to=None, trigger=Trigger.RUNNER,
        refusal="this attempt is no longer running"),
    (K.RUN, Request.HEARTBEAT): Rule(
        allowed=frozenset({S.RUNNING}), to=None, trigger=Trigger.RUNNER,
        refusal="this attempt is no longer running"),
}

_VIA_MESSAGES = {S.WAITING_ON_DEPS: "taken out of pending", S.CANCELLED: "stopping the agent",
                 S.RUNNING: "agent started"}


def rule(kind: ExecutionKind, request: Request) -> Rule | None:
    return RULES.get((kind, request))


def decide_request(execution: ExecutionView, request: Request, *, changes: Mapping[str, object] | None = None,
                   message: str | None = None, target: Transition | None = None) -> tuple[Transition, ...] | Refused:
    """The transitions that carry out `request`, first to last, or why it is refused. `changes`
    and `message` are the request's own (a resume's prompt); `target` is the last step when the
    request does not fix it (a report's outcome)."""
    found = rule(execution.kind, request)
    noun = LIFECYCLES[execution.kind].noun
    if found is None:
        return Refused(f"a {noun} cannot {request.value}", execution.state)
    state = execution.state
    if state not in found.allowed:
        text = found.refusal.format(request=request.value, state=state.value, noun=noun)
        return Refused(text, state)
    final = target
    if final is None and found.to is not None:
        final = Transition(to=found.to, reason=message or found.message, changes={**found.changes, **(changes or {})})
    if final is None or (final.to is state and final.to is found.to):
        return ()
    slots = LIFECYCLES[execution.kind].slot_states
    steps: list[Transition] = []
    through = found.via.get(state)
    if through is not None and through is not final.to:
        why = _VIA_MESSAGES.get(through, found.message)
        steps.append(Transition(to=through, reason=f"{final.reason}: {why}" if request is not Request.REPORT else why,
                                stop_agent=state in slots and through not in slots))
        state = through
    # A person's request stops the agent of the attempt it ends; a runner's report ends its own.
    stop = state in slots and final.to not in slots and found.trigger is not Trigger.RUNNER
    steps.append(Transition(to=final.to, reason=final.reason, changes=final.changes,
                            stop_agent=stop or final.stop_agent, effect=final.effect))
    return tuple(steps)
