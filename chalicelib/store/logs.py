"""Task log lines, numbered per task across attempts."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .models import CounterModel, TaskLogModel


@dataclass(frozen=True)
class LogLine:
    log_type: str
    content: str
    at: str


def _seq_key(task_id: str) -> str:
    return f"logseq#{task_id}"


def append(task_id: str, attempt: int, lines: Sequence[LogLine]) -> int:
    """Reserve a block of sequence numbers with one atomic add, then write the block: concurrent
    writers never share a number. Returns the last sequence number written."""
    if not lines:
        return 0
    counter = CounterModel(_seq_key(task_id))
    counter.update(actions=[CounterModel.value.add(len(lines))])
    last = int(counter.value)
    first = last - len(lines) + 1
    with TaskLogModel.batch_write() as batch:
        for offset, line in enumerate(lines):
            batch.save(
                TaskLogModel(
                    taskId=task_id, seq=first + offset, attempt=attempt,
                    logType=line.log_type, content=line.content, at=line.at,
                )
            )
    return last


def after(task_id: str, after_seq: int, limit: int) -> list[TaskLogModel]:
    return list(
        TaskLogModel.query(
            task_id, TaskLogModel.seq > after_seq, limit=limit, consistent_read=True
        )
    )


def delete_all(task_id: str) -> None:
    with TaskLogModel.batch_write() as batch:
        for line in TaskLogModel.query(task_id, attributes_to_get=["taskId", "seq"]):
            batch.delete(line)
