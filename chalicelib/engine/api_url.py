"""The URL the runners report to (the base of the API's `/api/...` routes).

Configured (`OPTIO_API_URL`) for the functions without a request: on AWS the template gives the
stream, schedule and launcher functions the stage URL. The API function cannot be given its own
API's URL (the RestApi refers to the function: a cycle), so while it serves a request, the URL that
request came in by is the one to give out: the stage URL, or the custom domain it was reached on.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from chalicelib.settings import settings

_serving: ContextVar[str | None] = ContextVar("optio_api_url", default=None)


def api_url() -> str:
    return _serving.get() or settings.api_url


@contextmanager
def serving(url: str | None) -> Iterator[None]:
    """While a request is handled: `url` is where it arrived (None: not known, the setting holds)."""
    token = _serving.set(url)
    try:
        yield
    finally:
        _serving.reset(token)
