"""The watcher container's entrypoint: the watcher (chalicelib.forge.watcher) runs; the secrets key it
needs to read the GITHUB_TOKEN secret, it reads from Secrets Manager through the pod's IRSA role at
first use (OPTIO_SECRETS_KEY_ARN, chalicelib.settings.ServerKey).

Every poll, whatever it found, touches OPTIO_WATCHER_HEARTBEAT; `--alive SECONDS` (the liveness
probe) exits 1 when the last poll is older than that, or there was none. Every poll also counts in
the `WatcherPolls` metric (chalicelib.observability.watcher_polled), sent to the log group
OPTIO_WATCHER_LOG_GROUP, a stream per pod, where CloudWatch extracts it: the `WatcherSilent` alarm
fires when none came for three intervals."""
from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

log = logging.getLogger("optio.watcher")


def beating(poll: Callable[..., Any], heartbeat: Path,
            report: Callable[[], None] = lambda: None) -> Callable[..., Any]:
    """`poll`, touching `heartbeat` and calling `report` after each call, also one that raised (it
    did poll: GitHub's rate limit, a failed pass)."""
    @wraps(poll)
    def polled(*args: Any, **kwargs: Any) -> Any:
        try:
            return poll(*args, **kwargs)
        finally:
            heartbeat.touch()
            report()
    return polled


def poll_metric(logs_client: Any, group: str, stream: str, service: str) -> Callable[[], None]:
    """A report of one poll: its `WatcherPolls` EMF document, put in `group`'s `stream` (made
    here). A report that fails is logged; the watcher polls on, and the alarm tells."""
    from chalicelib.observability import watcher_polled

    try:
        logs_client.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs_client.exceptions.ResourceAlreadyExistsException:
        pass  # the same pod, restarted

    def report() -> None:
        try:
            logs_client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
                {"timestamp": int(time.time() * 1000), "message": json.dumps(watcher_polled(service))}])
        except Exception:
            log.exception("the poll's metric was not sent")
    return report


def alive(heartbeat: Path, stale_s: float) -> bool:
    try:
        return time.time() - heartbeat.stat().st_mtime <= stale_s
    except FileNotFoundError:
        return False


def main() -> None:
    heartbeat = Path(os.environ.get("OPTIO_WATCHER_HEARTBEAT") or "/run/optio/polled")
    if sys.argv[1:2] == ["--alive"]:
        sys.exit(0 if alive(heartbeat, float(sys.argv[2])) else 1)
    # Started as alive: the first poll comes one interval after the start.
    heartbeat.touch()
    from chalicelib.forge import watcher

    group = os.environ.get("OPTIO_WATCHER_LOG_GROUP")
    reports: dict[str, Callable[[], None]] = {}
    if group:
        import boto3

        reports["report"] = poll_metric(boto3.client("logs"), group, socket.gethostname(),
                                        os.environ.get("POWERTOOLS_SERVICE_NAME") or "optio-watcher")
    # The Watcher's loop calls the module's watch_once for each pass.
    watcher.watch_once = beating(watcher.watch_once, heartbeat, **reports)
    watcher.main()


if __name__ == "__main__":
    main()
