"""Starts the real OpenID Connect provider (`oidc_server.mjs`: the certified `oidc-provider` from
npm, installed by `make oidc`) on loopback, for the sign-in tests."""
from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import FAKES, REPO_ROOT
from tests.support.waiting import wait_for

INSTALLED = REPO_ROOT / ".deps" / "oidc" / "node_modules" / "oidc-provider"


@contextmanager
def oidc_provider(port: int, redirect_uri: str, client_id: str, client_secret: str, log: Path) -> Iterator[str]:
    """The provider's issuer URL while it runs; it accepts any login at its sign-in page."""
    assert INSTALLED.is_dir(), "the OIDC provider is not installed: run `make oidc`"
    process = subprocess.Popen(
        ["node", str(FAKES / "oidc_server.mjs")], cwd=REPO_ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "OIDC_PORT": str(port), "OIDC_CLIENT_ID": client_id,
             "OIDC_CLIENT_SECRET": client_secret, "OIDC_REDIRECT_URI": redirect_uri})
    issuer = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the OIDC provider exited: {log.read_text()[-2000:]}")
        return f"ready {issuer}" in log.read_text()

    try:
        wait_for(ready, timeout_s=60, interval_s=0.2, what="the OIDC provider to listen")
        yield issuer
    finally:
        process.terminate()
        process.wait(timeout=20)
