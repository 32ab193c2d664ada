"""The PR watcher (SPEC §8): every `OPTIO_PR_WATCH_INTERVAL` ms it looks at the pull request of each
`pr_opened` task (found through the state index, no scans) and writes what it saw on the task row
with compare-and-swap. It decides nothing: the row's change wakes the executor (`core.pull_requests`).

Runs as `python -m chalicelib.forge.watcher` (the container on EKS) and on a thread in local mode.
GitHub throttling makes it wait (`Retry-After`, `X-RateLimit-Reset`) and change nothing.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from chalicelib.core import pull_requests
from chalicelib.core.states import ExecutionKind, State
from chalicelib.core.timefmt import iso
from chalicelib.engine.clock import utcnow
from chalicelib.exceptions import NotFound
from chalicelib.observability import logger
from chalicelib.settings import settings
from chalicelib.store import executions
from chalicelib.store.models import ExecutionModel

from .github import Forge, ForgeError, NotConfigured, Throttled, parse_pr_url

CAS_TRIES = 3


@dataclass
class Pass:
    looked: int = 0
    written: int = 0
    errors: int = 0


def observe_task(task: ExecutionModel, forge: Forge) -> bool:
    """Look at one task's PR and record it when something changed; True when written."""
    where = parse_pr_url(task.prUrl or "")
    if where is None:
        return False
    for _ in range(CAS_TRIES):
        # Looked at again after a lost race: the write that won (a webhook's "merged", say) may be
        # newer than what GitHub showed us before it, and must not be overwritten by that.
        seen = forge.observe(*where)
        if pull_requests.is_final(task.prState) and seen.state != task.prState:
            return False
        current = pull_requests.observed_fields(seen, iso(utcnow()))
        stored = {"prState": task.prState, "prChecksStatus": task.prChecksStatus,
                  "prReviewStatus": task.prReviewStatus, "prDetails": task.prDetails}
        if pull_requests.same_observation(seen, stored):
            return False
        try:
            executions.update(task, current, utcnow())
            logger.info("pr.observed", extra={"taskId": task.id, "prState": seen.state,
                                              "checks": seen.checks, "review": seen.review})
            return True
        except executions.LostRace:
            try:
                task = executions.get(task.id, ExecutionKind.REPO_TASK)
            except NotFound:
                return False
            if State(task.state) is not State.PR_OPENED:
                return False
    return False


def watch_once(forge: Forge | None = None) -> Pass:
    """One pass over every `pr_opened` task. Throttled propagates: the caller waits."""
    done = Pass()
    try:
        forge = forge or Forge.connect()
    except NotConfigured:
        return done
    for task in executions.all_in_state(ExecutionKind.REPO_TASK, State.PR_OPENED):
        done.looked += 1
        try:
            if observe_task(task, forge):
                done.written += 1
        except ForgeError as error:
            done.errors += 1
            logger.warning("pr.observe_failed", extra={"taskId": task.id, "error": str(error)})
    return done


class Watcher:
    def __init__(self, interval_s: float | None = None) -> None:
        self.interval_s = interval_s if interval_s is not None else settings.pr_watch_interval_ms / 1000
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name="pr-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def run(self) -> None:
        wait = self.interval_s
        while not self._stop.wait(wait):
            wait = self.interval_s
            try:
                watch_once()
            except Throttled as throttled:
                logger.info("pr.watcher_throttled", extra={"waitS": throttled.wait_s})
                wait = max(self.interval_s, throttled.wait_s)
            except Exception:
                logger.exception("pr watcher pass failed")


def main() -> None:  # pragma: no cover - the container's entrypoint
    Watcher().run()


if __name__ == "__main__":  # pragma: no cover
    main()
