"""The dashboard: one page shell for every client-side route, and its static assets. Public, as
the page asks for a token itself; never part of the API's OpenAPI document.

The page is served under a base path: "" locally and on a custom domain, the stage ("/api") at the
execute-api URL. The shell's `%BASE%` placeholders become that path, so its assets and links
resolve, and the scripts read it from `<meta name="optio-base">` for their requests and routes."""
from __future__ import annotations

import html
from pathlib import Path

from chalice.app import Blueprint, Response

from chalicelib.observability import logger

from .public_url import base_path

bp = Blueprint(__name__)

WEB = Path(__file__).resolve().parent.parent / "web"
# Client-side routes (history API) that a bookmark or a reload can land on.
PAGES = ("/", "/tasks", "/tasks/{page}", "/tasks/scheduled/{config_id}", "/templates", "/repos",
         "/issues", "/settings")
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
                 ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
_ASSETS = {p.name: p for p in WEB.iterdir() if p.suffix in CONTENT_TYPES}
# Assets change with the code, not per request: revalidate rather than serve stale scripts.
_NO_CACHE = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def _not_found() -> Response:
    return Response(body="Not found", status_code=404, headers={"Content-Type": "text/plain; charset=utf-8"})


def _file(name: str, base: str | None = None) -> Response:
    """The asset; with `base`, its `%BASE%` placeholders filled in."""
    path = _ASSETS.get(name)
    if path is None:
        return _not_found()
    try:
        body = path.read_text(encoding="utf-8")
    except OSError:
        # A broken deployment, not the visitor's doing: say so in the logs, answer plainly.
        logger.exception("dashboard asset unreadable", extra={"asset": name})
        return _not_found()
    if base is not None:
        body = body.replace("%BASE%", html.escape(base, quote=True))
    return Response(body=body, status_code=200, headers={"Content-Type": CONTENT_TYPES[path.suffix], **_NO_CACHE})


def missing_page() -> Response:
    """The shell with a 404 status, for a path no route has that is not the API's: the page shows
    the app's own "not found" with its navigation, where a gateway would answer raw JSON. Served
    by the local server, which has no base path."""
    page = _file("index.html", "")
    return Response(body=page.body, status_code=404, headers=page.headers)


def shell(**_: str) -> Response:
    request = bp.current_request
    return _file("index.html", base_path(request) if request is not None else "")


def asset(name: str) -> Response:
    return _file(name)


for _page in PAGES:
    bp.route(_page, methods=["GET"])(shell)
bp.route("/static/{name}", methods=["GET"])(asset)
