"""Where the API is reached from outside, read from the request API Gateway delivered.

On an execute-api domain the stage is the first segment of the path (`/api/...` at
`https://<id>.execute-api.<region>.amazonaws.com/api/`); on a custom domain the base path mapping
strips it, or puts its own in. API Gateway's proxy event carries the resource's path (`path`) and
the path the client asked for (`requestContext.path`): what the latter has in front of the former
is the base path, whichever the case. The local server (chalice local) has neither: no base path.
"""
from __future__ import annotations

from collections.abc import Callable

from chalice.app import Request, Response

from chalicelib.engine.api_url import serving

DEFAULT_PORTS = {"https": "443", "http": "80"}


def base_path(request: Request) -> str:
    """The path in front of the app's own routes: "/api" at a stage URL, "" on a custom domain."""
    asked = str(request.context.get("path") or "").rstrip("/")
    routed = str(request.to_original_event().get("path") or "").rstrip("/")
    if not request.to_original_event().get("path") or not asked.endswith(routed):
        return ""
    return asked[: len(asked) - len(routed)]


def request_api_url(request: Request) -> str | None:
    """`https://<domain><base path>`, as the client reached the API; None off API Gateway."""
    domain = request.context.get("domainName")
    if not domain:
        return None
    headers = request.headers
    scheme = str(headers.get("x-forwarded-proto") or "https")
    port = str(headers.get("x-forwarded-port") or DEFAULT_PORTS.get(scheme, ""))
    host = domain if port == DEFAULT_PORTS.get(scheme) else f"{domain}:{port}"
    return f"{scheme}://{host}{base_path(request)}"


def remember(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Middleware: whatever the request launches reports back to where the request came in."""
    with serving(request_api_url(event)):
        return get_response(event)
