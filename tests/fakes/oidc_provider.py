"""Starts the real OpenID Connect provider (`oidc_server.mjs`: the certified `oidc-provider` from
npm, installed by `make oidc`) on loopback, for the sign-in tests; and a browser's part in signing
in there, played by a cookie-keeping HTTP client that follows the redirects and posts the
provider's forms."""
from __future__ import annotations

import html
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urljoin

import requests

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


def form_of(page: requests.Response) -> tuple[str, dict[str, str]]:
    """The page's form: where it posts, and its hidden fields."""
    assert page.status_code == 200, (page.status_code, page.text[:500])
    action = re.search(r'<form[^>]*action="([^"]+)"', page.text)
    assert action, page.text[:2000]
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    return urljoin(page.url, html.unescape(action.group(1))), hidden


def sign_in_at(browser: requests.Session, start: str, login: str) -> requests.Response:
    """A browser sent to `start` (Optio's `/api/auth/login`), redirected to the provider's sign-in
    page: the login is posted, then the consent; the provider sends the browser back to Optio's
    callback, and the answer where the redirects end is returned."""
    page = browser.get(start, timeout=30)
    action, fields = form_of(page)
    page = browser.post(action, data={**fields, "login": login, "password": "any"}, timeout=30)
    if "consent" in page.text:
        action, fields = form_of(page)
        page = browser.post(action, data=fields, timeout=30)
    return page
