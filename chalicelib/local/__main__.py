"""`python -m chalicelib.local` (what `make dev` runs): Optio on this machine."""
from __future__ import annotations

import signal
import sys
import threading

from .dynamodb_local import DynamoDBLocalError
from .stack import LocalStack


def main() -> int:
    stack = LocalStack()
    try:
        stack.start()
    except DynamoDBLocalError as error:
        print(f"optio: {error}", file=sys.stderr)
        return 1
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    print(f"Optio is running at {stack.url}", flush=True)
    print(f"Admin token: {stack.token}", flush=True)
    from chalicelib.services import setup

    if setup.setup_needed():
        # Until the first administrator exists (README "People"); a secret of the deployment on AWS.
        print(f"Setup token: {setup.setup_token()}  (POST /api/setup/admin, once)", flush=True)
    # Woken each second, not only by the signal: a SIGTERM taken by another thread sets Python's
    # flag but leaves this one asleep (a stop under load then waited for the test's SIGKILL).
    while not stopping.wait(timeout=1.0):
        pass
    print("optio: stopping", flush=True)
    stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
