"""`optio login --browser`: sign in through the deployment's identity provider, as in the dashboard.

The CLI listens on a loopback port (RFC 8252 §7.3, a native app's redirect) and sends the browser
to Optio's own `/api/auth/login?cli=<port>&cliState=<state>`. Optio runs the usual code flow with
PKCE against its provider and, back at its callback, sends the browser to
`http://127.0.0.1:<port>/?token=<session>&state=<state>` instead of setting a cookie. Through Optio
rather than to the provider directly: the provider needs no second client or redirect URI, any
OpenID Connect provider works (Cognito has no device flow), and the session is Optio's, found and
bound to the user exactly as a browser sign-in is.
"""
from __future__ import annotations

import secrets
import threading
import webbrowser
from http.server import BaseHTTPRequestHandler, HTTPServer
from time import monotonic
from urllib.parse import parse_qs, urlencode, urlparse

import click

from .errors import AUTH, USAGE, CliError, exit_code_for_status

# How long a person has to finish signing in at the provider.
WAIT_S = 300
DONE_PAGE = (b"<!doctype html><title>Optio</title><p>Signed in to the Optio command line: "
             b"you can close this tab.</p>")
REFUSED_PAGE = b"<!doctype html><title>Optio</title><p>Sign-in refused: see the command line.</p>"


class _Listener(HTTPServer):
    state: str
    answer: dict[str, str] | None = None


class _Handler(BaseHTTPRequestHandler):
    server: _Listener

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        given = {name: values[0] for name, values in parse_qs(urlparse(self.path).query).items()}
        if not secrets.compare_digest(given.get("state", ""), self.server.state):
            # Not this sign-in's answer (a stale tab, another page probing the port): ignored.
            self._page(400, b"<!doctype html><title>Optio</title><p>Not this sign-in.</p>")
            return
        self.server.answer = given
        self._page(200 if "token" in given else 403, DONE_PAGE if "token" in given else REFUSED_PAGE)

    def _page(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's name
        """Silent: the request line holds the session token."""


def sign_in(url: str, open_browser: bool) -> str:
    """The session token Optio handed to this process's loopback port."""
    listener = _Listener(("127.0.0.1", 0), _Handler)
    listener.state = secrets.token_urlsafe(32)
    listener.timeout = 1
    try:
        port = listener.server_address[1]
        start = f"{url}/api/auth/login?" + urlencode({"cli": port, "cliState": listener.state})
        click.echo(f"Sign in with your browser: {start}", err=True)
        if open_browser:
            # Aside: a browser command given in $BROWSER may run until its window closes, and the
            # answer it brings back is this loop's to serve.
            threading.Thread(target=webbrowser.open, args=(start,), daemon=True).start()
        deadline = monotonic() + WAIT_S
        while listener.answer is None:
            if monotonic() > deadline:
                raise CliError(f"no sign-in within {WAIT_S // 60} minutes", AUTH)
            listener.handle_request()
        answer = listener.answer
    finally:
        listener.server_close()
    if "token" not in answer:
        status = answer.get("status", "")
        code = exit_code_for_status(int(status)) if status.isdigit() else USAGE
        raise CliError(f"the sign-in was refused: {answer.get('error', 'no reason given')}", code)
    return answer["token"]
