"""The watcher container's entrypoint: the watcher (chalicelib.forge.watcher) runs; the secrets key it
needs to read the GITHUB_TOKEN secret, it reads from Secrets Manager through the pod's IRSA role at
first use (OPTIO_SECRETS_KEY_ARN, chalicelib.settings.ServerKey).

Every poll, whatever it found, touches OPTIO_WATCHER_HEARTBEAT; `--alive SECONDS` (the liveness
probe) exits 1 when the last poll is older than that, or there was none."""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any


def beating(poll: Callable[..., Any], heartbeat: Path) -> Callable[..., Any]:
    """`poll`, touching `heartbeat` after each call, also one that raised (it did poll: GitHub's
    rate limit, a failed pass)."""
    @wraps(poll)
    def polled(*args: Any, **kwargs: Any) -> Any:
        try:
            return poll(*args, **kwargs)
        finally:
            heartbeat.touch()
    return polled


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

    # The Watcher's loop calls the module's watch_once for each pass.
    watcher.watch_once = beating(watcher.watch_once, heartbeat)
    watcher.main()


if __name__ == "__main__":
    main()
