"""The dashboard: one page shell for every client-side route, and its static assets. Public, as
the page asks for a token itself; never part of the API's OpenAPI document.

The page is served under a base path: "" locally and on a custom domain, the stage ("/api") at the
execute-api URL. The shell's `%BASE%` placeholders become that path, so its assets and links
resolve, and the scripts read it from `<meta name="optio-base">` for their requests and routes."""
from __future__ import annotations

import hashlib
import html
from functools import lru_cache
from pathlib import Path

from chalice.app import Blueprint, Request, Response

from chalicelib.observability import logger

from .http import JSON, error_body
from .public_url import base_path

bp = Blueprint(__name__)

WEB = Path(__file__).resolve().parent.parent / "web"
# Client-side routes (history API) that a bookmark or a reload can land on.
PAGES = ("/", "/tasks", "/tasks/{page}", "/tasks/scheduled/{config_id}", "/templates", "/repos",
         "/issues", "/settings")
# API Gateway's greedy resource: every path no other resource has (Chalice has no greedy routes of
# its own; API Gateway and `chalice package` take the path template as it is).
CATCH_ALL = "/{proxy+}"
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
                 ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
_ASSETS = {p.name: p for p in WEB.iterdir() if p.suffix in CONTENT_TYPES}
# Assets change with the code, not per request: every visit revalidates (a 304 by the ETag costs
# no body), so a deploy's new scripts are never shadowed by stale cached ones.
_NO_CACHE = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def _not_found() -> Response:
    return Response(body="Not found", status_code=404, headers={"Content-Type": "text/plain; charset=utf-8"})


@lru_cache(maxsize=64)
def _content(path: Path, base: str | None, modified_ns: int) -> tuple[str, str]:
    """The asset's text (with `base` filled in) and its ETag; read again when the file changes."""
    del modified_ns  # part of the cache key only
    body = path.read_text(encoding="utf-8")
    if base is not None:
        body = body.replace("%BASE%", html.escape(base, quote=True))
    return body, '"' + hashlib.sha256(body.encode("utf-8")).hexdigest()[:32] + '"'


def _file(name: str, base: str | None = None, request: Request | None = None) -> Response:
    """The asset; with `base`, its `%BASE%` placeholders filled in. 304 without a body when the
    request's `If-None-Match` names the current version."""
    path = _ASSETS.get(name)
    if path is None:
        return _not_found()
    try:
        body, etag = _content(path, base, path.stat().st_mtime_ns)
    except OSError:
        # A broken deployment, not the visitor's doing: say so in the logs, answer plainly.
        logger.exception("dashboard asset unreadable", extra={"asset": name})
        return _not_found()
    headers: dict[str, str | list[str]] = {"ETag": etag, **_NO_CACHE}
    asked = (request.headers.get("if-none-match") or "") if request is not None else ""
    if etag in (tag.strip() for tag in asked.split(",")):
        return Response(body="", status_code=304, headers=headers)
    return Response(body=body, status_code=200, headers={"Content-Type": CONTENT_TYPES[path.suffix], **headers})


def missing_page(base: str = "") -> Response:
    """The shell with a 404 status, for a path no route has that is not the API's: the page shows
    the app's own "not found" with its navigation, where a gateway would answer raw JSON. The
    local server serves it without a base path."""
    page = _file("index.html", base)
    return Response(body=page.body, status_code=404, headers=page.headers)


def missing(**_: str) -> Response:
    """What no other route matches, on API Gateway (which has only the resources it was given):
    its greedy catch-all resource brings any such GET here. Under `/api` it is the JSON 404 the
    gateway's own response for an unknown route gives (infra's GATEWAY_RESPONSES); elsewhere the
    app's own "not found" page, at the base path it was reached under."""
    request = bp.current_request
    # The path past the base (API Gateway's `path`; the local server's event has only the path asked).
    asked = str(request.context.get("path") or "")
    routed = str(request.to_original_event().get("path") or asked)
    if routed == "/api" or routed.startswith("/api/"):
        return Response(body=error_body(f"not found: no route {request.method} {asked}"), status_code=404, headers=JSON)
    return missing_page(base_path(request))


def shell(**_: str) -> Response:
    request = bp.current_request
    return _file("index.html", base_path(request), request)


def asset(name: str) -> Response:
    return _file(name, request=bp.current_request)


for _page in PAGES:
    bp.route(_page, methods=["GET"])(shell)
bp.route("/static/{name}", methods=["GET"])(asset)
# Last in every router's order: API Gateway matches literal and {param} resources before a greedy one.
bp.route(CATCH_ALL, methods=["GET"])(missing)
