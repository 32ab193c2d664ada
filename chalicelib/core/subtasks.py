"""Subtasks: how a parent's blocking subtasks stand, and the pipeline of steps."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .naming import branch_name
from .states import State

S = State
SUBTASK_TYPES = ("child", "step", "review")
_RUNNING = frozenset({S.PROVISIONING, S.RUNNING, S.PR_OPENED, S.NEEDS_ATTENTION})
_FAILED = frozenset({S.FAILED, S.CANCELLED})


@dataclass(frozen=True)
class SubtaskView:
    id: str
    task_type: str
    state: State
    blocks_parent: bool
    order: int


@dataclass(frozen=True)
class SubtaskStatus:
    total: int
    pending: int
    running: int
    completed: int
    failed: int

    @property
    def all_complete(self) -> bool:
        return self.completed == self.total


def status(subtasks: Sequence[SubtaskView]) -> SubtaskStatus:
    """Counts over the blocking subtasks (SPEC §6)."""
    blocking = [s.state for s in subtasks if s.blocks_parent]
    completed = sum(1 for s in blocking if s is S.COMPLETED)
    running = sum(1 for s in blocking if s in _RUNNING)
    failed = sum(1 for s in blocking if s in _FAILED)
    return SubtaskStatus(len(blocking), len(blocking) - completed - running - failed, running,
                         completed, failed)


@dataclass(frozen=True)
class PipelineView:
    steps: int
    completed: int

    @property
    def done(self) -> bool:
        return self.steps > 0 and self.completed == self.steps


def pipeline(subtasks: Sequence[SubtaskView]) -> PipelineView | None:
    steps = [s for s in subtasks if s.task_type == "step"]
    if not steps:
        return None
    return PipelineView(len(steps), sum(1 for s in steps if s.state is S.COMPLETED))


def previous_step(subtasks: Sequence[SubtaskView], order: int) -> SubtaskView | None:
    """The step a new step at `order` runs after: steps run one at a time, in order."""
    earlier = [s for s in subtasks if s.task_type == "step" and s.order < order]
    return max(earlier, key=lambda s: s.order) if earlier else None


@dataclass(frozen=True)
class NewSubtask:
    """A person's (or the review policy's) request for a subtask, checked."""

    title: str
    prompt: str
    task_type: str = "child"
    agent_type: str | None = None
    priority: int | None = None
    max_retries: int | None = None
    blocks_parent: bool | None = None


def subtask_row(parent: Mapping[str, Any], task_id: str, given: NewSubtask, order: int,
                previous: SubtaskView | None) -> dict[str, Any]:
    """The new row of a subtask of `parent` (its fields by name): it works in the parent's repo
    and, for steps and reviews, on the parent's branch; steps wait for the step before them;
    steps and reviews hold the parent back by default, children run on their own."""
    shares_branch = given.task_type in ("step", "review")
    depends_on = [previous.id] if previous is not None and given.task_type == "step" else []
    return {
        "id": task_id, "type": "repo-task", "state": S.PENDING.value,
        "title": given.title, "prompt": given.prompt,
        "repoId": parent["repoId"], "repoUrl": parent["repoUrl"], "repoBranch": parent["repoBranch"],
        "branchName": parent["branchName"] if shares_branch else branch_name(given.title, task_id),
        "agentType": given.agent_type or parent["agentType"], "model": parent.get("model"),
        "priority": given.priority if given.priority is not None else int(parent.get("priority") or 0),
        "maxRetries": given.max_retries if given.max_retries is not None else int(parent.get("maxRetries") or 0),
        "parentId": parent["id"], "taskType": given.task_type, "subtaskOrder": order,
        "blocksParent": given.blocks_parent if given.blocks_parent is not None else given.task_type != "child",
        "dependsOn": depends_on or None,
        # A subtask's agent gets no secret its parent's did not.
        "environment": parent.get("environment"),
    }
