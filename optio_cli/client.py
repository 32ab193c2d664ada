"""The HTTP client: bearer token in a header (never in a URL, where access logs would keep it),
JSON in and out, and every error answer turned into a message and an exit code."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import requests

from .errors import UNAVAILABLE, CliError, exit_code_for_status

TIMEOUT_S = 30
PAGE_LIMIT = 200


def segment(value: str) -> str:
    """One path segment: an id or name typed by a user cannot reach another route."""
    return quote(value, safe="")


class Client:
    def __init__(self, url: str, token: str | None) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "optio-cli"
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        try:
            response = self.session.request(
                method, self.url + path, json=body,
                params={k: v for k, v in (params or {}).items() if v is not None}, timeout=TIMEOUT_S,
            )
        except requests.RequestException as error:
            raise CliError(f"cannot reach {self.url}: {type(error).__name__}", UNAVAILABLE) from error
        if response.status_code >= 400:
            raise CliError(_describe(response), exit_code_for_status(response.status_code))
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise CliError(f"{self.url} answered {response.status_code} with no JSON: is it Optio?",
                           UNAVAILABLE) from error

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, body={} if body is None else body)

    def pages(self, path: str, limit: int | None = None, **params: Any) -> Iterator[dict[str, Any]]:
        """The items of a paged list, following `nextCursor` until `limit` items (all without one)."""
        cursor: str | None = None
        seen = 0
        while True:
            want = PAGE_LIMIT if limit is None else min(PAGE_LIMIT, limit - seen)
            page = self.get(path, limit=want, cursor=cursor, **params)
            for item in page.get("items", []):
                yield item
                seen += 1
                if limit is not None and seen >= limit:
                    return
            cursor = page.get("nextCursor")
            if not cursor:
                return


def _describe(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return f"{response.request.method} {response.url.split('?')[0]} answered {response.status_code}"
    lines = [body["error"]]
    if isinstance(body.get("state"), str) and body["state"] not in body["error"]:
        lines[0] += f" (state: {body['state']})"
    if isinstance(body.get("existingId"), str):
        lines[0] += f" (id: {body['existingId']})"
    for detail in body.get("details") or []:
        if isinstance(detail, dict):
            lines.append(f"  {detail.get('field')}: {detail.get('problem')}")
    if response.status_code == 429 and response.headers.get("Retry-After"):
        lines.append(f"  retry after {response.headers['Retry-After']} s")
    return "\n".join(lines)
