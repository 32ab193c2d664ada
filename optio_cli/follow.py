"""Following a task or a run: its log lines on stdout as they arrive, and a progress line on stderr
(state, elapsed time, cost) until its agent is done."""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

import click

from .client import PAGE_LIMIT, Client, segment

POLL_S = 1.0
# The agent is done in these; `failed` may still be retried automatically (the API does not say
# whether), so following ends there and says so.
TASK_DONE = frozenset({"completed", "pr_opened", "needs_attention", "failed", "cancelled"})
RUN_DONE = frozenset({"completed", "failed"})


@dataclass(frozen=True)
class Subject:
    kind: str  # "task" or "run"
    path: str  # GET this for the state; `<path>/logs` for the lines
    done: frozenset[str]

    @classmethod
    def task(cls, task_id: str) -> Subject:
        return cls("task", f"/api/tasks/{segment(task_id)}", TASK_DONE)

    @classmethod
    def run(cls, run_id: str) -> Subject:
        return cls("run", f"/api/workflow-runs/{segment(run_id)}", RUN_DONE)


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def elapsed(item: dict[str, Any], now: datetime, finished: bool) -> str:
    start = parse_time(item.get("startedAt")) or parse_time(item.get("createdAt"))
    end = (parse_time(item.get("completedAt")) or parse_time(item.get("finishedAt"))) if finished else None
    seconds = max(0, int(((end or now) - start).total_seconds())) if start else 0
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes}:{seconds:02d}"


def status_line(item: dict[str, Any], now: datetime, finished: bool) -> str:
    cost = item.get("costUsd")
    parts = [str(item.get("state")), elapsed(item, now, finished),
             f"${cost:.4f}" if isinstance(cost, int | float) else "$-"]
    return " · ".join(parts)


def log_text(line: dict[str, Any]) -> str:
    kind = line.get("type")
    content = str(line.get("content", ""))
    return content if kind == "text" else f"[{kind}] {content}"


class Progress:
    """On a terminal one line, redrawn in place; otherwise (a pipe, a CI log) a line per change."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self.shown = False  # a live line is on screen
        self.state: str | None = None

    def clear(self) -> None:
        if self.live and self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False

    def update(self, text: str, state: str) -> None:
        if self.live:
            self.stream.write(f"\r\x1b[K{text}")
            self.stream.flush()
            self.shown = True
        elif state != self.state:
            self.stream.write(text + "\n")
            self.stream.flush()
        self.state = state

    def finish(self, text: str) -> None:
        self.clear()
        self.stream.write(text + "\n")
        self.stream.flush()


def follow(client: Client, subject: Subject, after: int, as_json: bool, keep_going: bool) -> None:
    """Prints the log lines after sequence number `after`; with `keep_going`, polls until the agent
    is done."""
    progress = Progress(sys.stderr)
    try:
        while True:
            item: dict[str, Any] = client.get(subject.path)
            finished = item.get("state") in subject.done
            # Read after the state: every line the agent wrote before it finished is then on the page.
            lines = list(log_lines(client, subject.path + "/logs", after))
            if lines:
                progress.clear()
            for line in lines:
                click.echo(json.dumps(line, sort_keys=True) if as_json else log_text(line))
                after = max(after, int(line.get("seq", after)))
            if not keep_going:
                return
            now = datetime.now(UTC)
            if finished:
                if not as_json:
                    progress.finish(_final(subject, item, now))
                return
            if not as_json:
                progress.update(status_line(item, now, finished=False), str(item.get("state")))
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        progress.clear()  # Ctrl-C stops following (the task goes on); "Aborted." on a clean line
        raise


def log_lines(client: Client, path: str, after: int) -> Iterator[dict[str, Any]]:
    """Log pages are keyed by sequence number: `nextCursor` is the `after` of the next page."""
    while True:
        page = client.get(path, after=after, limit=PAGE_LIMIT)
        yield from page.get("items", [])
        following = page.get("nextCursor")
        if not following:
            return
        after = int(following)


def _final(subject: Subject, item: dict[str, Any], now: datetime) -> str:
    text = status_line(item, now, finished=True)
    if item.get("errorMessage"):
        text += f" · {item['errorMessage']}"
    retries = item.get("retryCount")
    if item.get("state") == "failed" and isinstance(retries, int) and retries < int(item.get("maxRetries") or 0):
        text += f"\n(an automatic retry may follow: optio {subject.kind}s logs {item.get('id')} --follow)"
    return text
