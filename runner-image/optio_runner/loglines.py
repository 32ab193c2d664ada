"""The log line the API stores: a type, a bounded content and the time it was produced."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

LogType = Literal["text", "tool_use", "tool_result", "thinking", "permission", "retry", "error", "system"]
MAX_CONTENT = 8000


@dataclass(frozen=True)
class LogLine:
    type: LogType
    content: str
    at: str

    def to_json(self) -> dict[str, str]:
        return {"type": self.type, "content": self.content, "at": self.at}


def log_line(type_: LogType, content: str) -> LogLine:
    return LogLine(type_, truncate(content, MAX_CONTENT), utc_now())


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
