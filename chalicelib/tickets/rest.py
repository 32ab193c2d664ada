"""JSON over HTTPS for the ticket providers' REST APIs (Jira Cloud, Notion), with the standard
library: a 429 is waited out as its `Retry-After` asks (a few times, a few seconds at most),
anything else that is not 2xx is a `TicketApiError` naming the vendor and its answer."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

RATE_LIMIT_TRIES = 4
MAX_WAIT_S = 5.0


class TicketApiError(Exception):
    pass


class RateLimited(TicketApiError):
    """Still throttled after waiting: the next sync tries again."""


def call(vendor: str, method: str, url: str, headers: Mapping[str, str], body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    for attempt in range(RATE_LIMIT_TRIES):
        request = urllib.request.Request(url, data=data, method=method, headers={
            "Accept": "application/json", "Content-Type": "application/json", "User-Agent": "optio", **headers})
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                raw = response.read()
                return json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            text = error.read().decode(errors="replace")[:300]
            if error.code == 429:
                wait = _retry_after(error.headers.get("Retry-After"))
                if attempt + 1 < RATE_LIMIT_TRIES and wait <= MAX_WAIT_S:
                    time.sleep(wait)
                    continue
                raise RateLimited(f"{vendor} is rate limiting (retry after {wait:.0f} s)") from None
            raise TicketApiError(f"{vendor} answered {error.code}: {text}") from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise TicketApiError(f"{vendor} could not be reached: {error}") from None
    raise RateLimited(f"{vendor} is rate limiting")  # the loop always returns or raises first


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 1.0
    except ValueError:
        return MAX_WAIT_S + 1  # an HTTP date: longer than we wait in a request
