"""Subtasks: how a parent's blocking subtasks stand, and the pipeline of steps."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .states import TaskState

S = TaskState
SUBTASK_TYPES = ("child", "step", "review")
_RUNNING = frozenset({S.PROVISIONING, S.RUNNING, S.PR_OPENED, S.NEEDS_ATTENTION})
_FAILED = frozenset({S.FAILED, S.CANCELLED})


@dataclass(frozen=True)
class SubtaskView:
    id: str
    task_type: str
    state: TaskState
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
