"""A warm runner (`OPTIO_WARM_POD` set): started before there is work, it asks the API for work
every `OPTIO_WARM_POLL_MS` with its pool's token, and at once on SIGURG (the local launcher's
word that an attempt was handed to it; ignored by default, so one sent before the runner listens
kills nothing), and runs the first attempt handed to it as the
runner of that attempt would, with the attempt's input, run token and secrets as they came in the
claim. Nothing of an execution is in its environment before that.

Exit codes: the attempt's (runner.py); 0 when the pool no longer wants it (404); 1 when its token
is refused; 143 on SIGTERM while it waits.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from types import FrameType
from typing import Any

from optio_runner.config import ConfigError, load_config
from optio_runner.reporter import REQUEST_TIMEOUT_S, note
from optio_runner.runner import Runner

# Its own: the attempt it adopts gets none of them (the token asks for any attempt of the pool).
WARM_VARIABLES = ("OPTIO_WARM_POD", "OPTIO_WARM_TOKEN", "OPTIO_WARM_POLL_MS")
# How long a failing claim (the API unreachable, a 5xx) waits before the next.
ERROR_DELAY_S = 2.0


class _Stopped(Exception):
    pass


def claim(api_url: str, pod_id: str, token: str) -> dict[str, Any] | None:
    """The attempt handed to this runner, or None while there is none. Raises HTTPError for
    the answers that end the wait (404, 401)."""
    request = urllib.request.Request(
        f"{api_url}/api/internal/warm-pods/{urllib.parse.quote(pod_id, safe='')}/claim", data=b"{}",
        method="POST", headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer if answer.get("assigned") else None


def adopted_environment(own: Mapping[str, str], answer: Mapping[str, Any]) -> dict[str, str]:
    """The attempt's environment, as a launcher would have given it: this process's own (less its
    warm variables), the attempt's secrets, its input, and its network for the agent."""
    env = {name: value for name, value in own.items() if name not in WARM_VARIABLES}
    env.update({str(k): str(v) for k, v in dict(answer["secrets"]).items()})
    env.update({str(k): str(v) for k, v in dict(answer["environment"]).items()})
    env["OPTIO_AGENT_NETWORK"] = str(answer.get("network") or "internet")
    return env


def main() -> int:
    api_url = os.environ.get("OPTIO_API_URL", "").strip().rstrip("/")
    pod_id, token = os.environ.get("OPTIO_WARM_POD", "").strip(), os.environ.get("OPTIO_WARM_TOKEN", "").strip()
    if not (api_url and pod_id and token):
        print("optio-runner: a warm runner needs OPTIO_API_URL, OPTIO_WARM_POD and OPTIO_WARM_TOKEN", file=sys.stderr)
        return 2
    interval_s = int(os.environ.get("OPTIO_WARM_POLL_MS") or "1000") / 1000

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise _Stopped

    # While it waits, a SIGTERM (the pool shrank) ends it at once; the attempt's Runner sets its own.
    signal.signal(signal.SIGTERM, on_sigterm)
    # Blocked, a wake-up stays pending until the wait takes it (none is lost while an ask is
    # answered); unblocked again before the attempt, whose agent inherits the mask.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGURG})
    try:
        answer = _wait_for_work(api_url, pod_id, token, interval_s)
    except _Stopped:
        return 143
    if answer is None:
        return 0
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGURG})
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        cfg = load_config(adopted_environment(os.environ, answer))
    except ConfigError as exc:
        note(f"the adopted attempt's input is incomplete: {exc}")
        return 2
    note(f"adopted attempt {cfg.attempt} of {cfg.task_id}")
    return Runner(cfg).run()


def _wait_for_work(api_url: str, pod_id: str, token: str, interval_s: float) -> dict[str, Any] | None:
    while True:
        try:
            answer = claim(api_url, pod_id, token)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                note("no longer in a warm pool; exiting")
                return None
            if error.code == 401:
                note("the warm runner's token was refused")
                raise SystemExit(1) from None
            note(f"claiming work failed: HTTP {error.code}")
            time.sleep(ERROR_DELAY_S)
            continue
        except (urllib.error.URLError, OSError) as error:
            note(f"claiming work failed: {error}")
            time.sleep(ERROR_DELAY_S)
            continue
        if answer is not None:
            return answer
        signal.sigtimedwait({signal.SIGURG}, interval_s)
