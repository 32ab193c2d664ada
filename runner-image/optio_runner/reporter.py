"""Everything the runner tells the server: POSTs to the task's internal events endpoint.

The server answers 409 when this attempt is no longer current (a newer attempt, a cancel): the
runner then stops its agent and exits quietly. 401 means the run token is wrong: nothing this
attempt reports can land, so it stops too.
"""

from __future__ import annotations

import http.client
import json
import math
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from optio_runner.loglines import LogLine
from optio_runner.process import StopReason, Supervisor

REQUEST_TIMEOUT_S = 10.0
LOG_BATCH_LINES = 100
RETRYABLE_STATUSES = frozenset({408, 429})


@dataclass(frozen=True)
class RetryPolicy:
    retries: int | None  # retries after the first try; None: as many as the budget allows
    budget_s: float  # no retry starts once this much time has passed since the first try
    max_delay_s: float


# Logs and heartbeats lose little if one is dropped; the result is the attempt's whole outcome.
EVENT_RETRY = RetryPolicy(retries=5, budget_s=math.inf, max_delay_s=3.2)
RESULT_RETRY = RetryPolicy(retries=None, budget_s=30.0, max_delay_s=5.0)
FIRST_DELAY_S = 0.2


def note(message: str) -> None:
    print(f"optio-runner: {message}", file=sys.stderr, flush=True)


class _Retryable(Exception):
    """A try failed in a way another try may not (network error, 5xx)."""


class Reporter:
    def __init__(self, api_url: str, task_id: str, token: str, attempt: int, supervisor: Supervisor,
                 channel: str = "tasks") -> None:
        """`channel`: `tasks`, or `workflow-runs` for a run of a standalone task."""
        self._url = f"{api_url}/api/internal/{channel}/{urllib.parse.quote(task_id, safe='')}/events"
        self._token = token
        self._attempt = attempt
        self._supervisor = supervisor

    def send(
        self,
        kind: str,
        fields: dict[str, Any],
        policy: RetryPolicy = EVENT_RETRY,
        abort: threading.Event | None = None,
    ) -> bool:
        """Posts one event; True once the server accepted it.

        False when it could not be delivered or the server stopped the attempt (409/401, see
        the supervisor's reason). `abort` cuts the retries short (a heartbeat being shut down).
        """
        body = json.dumps({"attempt": self._attempt, "kind": kind, **fields}).encode()
        interrupt = abort if abort is not None else self._supervisor.stopped
        started = time.monotonic()
        delay = FIRST_DELAY_S
        tries = 0
        while True:
            if self._supervisor.reason is not None:
                return False
            try:
                return self._post(kind, body)
            except _Retryable as exc:
                problem = str(exc)
            tries += 1
            out_of_retries = policy.retries is not None and tries > policy.retries
            if out_of_retries or time.monotonic() - started + delay > policy.budget_s:
                note(f"could not deliver {kind} event after {tries} tries: {problem}")
                return False
            if interrupt.wait(delay):
                return False
            delay = min(delay * 2, policy.max_delay_s)

    def _post(self, kind: str, body: bytes) -> bool:
        """One try: True if accepted, False if retrying cannot help; _Retryable otherwise."""
        request = urllib.request.Request(
            self._url,
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {self._token}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
                response.read()
            return True
        except urllib.error.HTTPError as exc:
            status = exc.code
            detail = exc.read()[:300].decode("utf-8", "replace")
            exc.close()
        except (OSError, http.client.HTTPException) as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from None
        if status == 409:
            self._supervisor.stop(StopReason.SUPERSEDED)
            return False
        if status == 401:
            note(f"the server rejected the run token ({kind} event): {detail}")
            self._supervisor.stop(StopReason.UNAUTHORIZED)
            return False
        if status >= 500 or status in RETRYABLE_STATUSES:
            raise _Retryable(f"HTTP {status}: {detail}")
        note(f"the server refused the {kind} event with HTTP {status}: {detail}")
        return False


class LogShipper:
    """Batches log lines in order: one sender thread, flushing on a timer or at a full batch."""

    def __init__(self, reporter: Reporter, supervisor: Supervisor, flush_s: float) -> None:
        self._reporter = reporter
        self._supervisor = supervisor
        self._flush_s = flush_s
        self._pending: list[LogLine] = []
        self._closing = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="log-shipper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def add(self, lines: Iterable[LogLine]) -> None:
        with self._cond:
            self._pending.extend(lines)
            if len(self._pending) >= LOG_BATCH_LINES:
                self._cond.notify()

    def close(self) -> None:
        """Sends everything still pending, then stops the sender."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join()

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(
                    lambda: self._closing or len(self._pending) >= LOG_BATCH_LINES,
                    timeout=self._flush_s,
                )
                batch, self._pending = self._pending, []
                closing = self._closing
            for start in range(0, len(batch), LOG_BATCH_LINES):
                if self._supervisor.reason is not None:
                    return
                chunk = batch[start : start + LOG_BATCH_LINES]
                lines = [line.to_json() for line in chunk]
                if not self._reporter.send("logs", {"lines": lines}) and self._supervisor.reason is None:
                    note(f"dropped {len(chunk)} log lines")
            if closing:
                return


class Heartbeat:
    """Tells the server the attempt is alive, with the agent's running cost when known."""

    def __init__(self, reporter: Reporter, interval_s: float, cost: Callable[[], float | None]) -> None:
        self._reporter = reporter
        self._interval_s = interval_s
        self._cost = cost
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._halt.set()
        self._thread.join(timeout=REQUEST_TIMEOUT_S + 1)

    def _loop(self) -> None:
        while not self._halt.wait(self._interval_s):
            self._reporter.send("heartbeat", {"costUsd": self._cost()}, abort=self._halt)
