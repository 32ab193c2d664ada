"""Log lines of an execution, numbered per execution across attempts."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .models import CounterModel, ExecutionLogModel


@dataclass(frozen=True)
class LogLine:
    log_type: str
    content: str
    at: str


def _seq_key(execution_id: str) -> str:
    return f"logseq#{execution_id}"


def append(execution_id: str, attempt: int, lines: Sequence[LogLine]) -> int:
    """Reserve a block of sequence numbers with one atomic add, then write the block: concurrent
    writers never share a number. Returns the last sequence number written."""
    if not lines:
        return 0
    counter = CounterModel(_seq_key(execution_id))
    counter.update(actions=[CounterModel.value.add(len(lines))])
    last = int(counter.value)
    first = last - len(lines) + 1
    with ExecutionLogModel.batch_write() as batch:
        for offset, line in enumerate(lines):
            batch.save(
                ExecutionLogModel(
                    executionId=execution_id, seq=first + offset, attempt=attempt,
                    logType=line.log_type, content=line.content, at=line.at,
                )
            )
    return last


def after(execution_id: str, after_seq: int, limit: int) -> list[ExecutionLogModel]:
    return list(
        ExecutionLogModel.query(
            execution_id, ExecutionLogModel.seq > after_seq, limit=limit, consistent_read=True
        )
    )


def newest_first(execution_id: str, before_seq: int | None, limit: int) -> list[ExecutionLogModel]:
    """The newest `limit` lines (before `before_seq` when given), newest first: one query read
    backwards, however many lines the execution has."""
    condition = ExecutionLogModel.seq < before_seq if before_seq is not None else None
    return list(ExecutionLogModel.query(execution_id, condition, limit=limit, consistent_read=True,
                                        scan_index_forward=False))


def delete_all(execution_id: str) -> None:
    with ExecutionLogModel.batch_write() as batch:
        for line in ExecutionLogModel.query(execution_id, attributes_to_get=["executionId", "seq"]):
            batch.delete(line)


def import_line(line: ExecutionLogModel) -> None:
    """A log line as an older version wrote it (`store.legacy`); keyed by its number, so writing
    it again changes nothing. The sequence counter (`logseq#<id>`) stays where it was."""
    line.save()
