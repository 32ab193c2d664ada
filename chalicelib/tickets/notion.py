"""Notion over its public API (`OPTIO_NOTION_API_URL`, version 2022-06-28): a database's pages
(query, paged by `start_cursor`), comments on a page, and a page's state property updated."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.core.tickets import Ticket, notion_filter, notion_ticket

from .rest import TicketApiError, call

NOTION_VERSION = "2022-06-28"
PAGE_SIZE = 50
MAX_PAGES = 20


class Notion:
    def __init__(self, api_url: str, token: str) -> None:
        self.api_url = api_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}", "Notion-Version": NOTION_VERSION}

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        return call("Notion", method, f"{self.api_url}{path}", self._headers, body)

    def _status_type(self, config: Mapping[str, Any]) -> str | None:
        """The state property's type (`status` or `select`), from the database's schema."""
        name = config.get("statusProperty")
        if not name:
            return None
        database = self._call("GET", f"/v1/databases/{config['databaseId']}")
        prop = (database.get("properties") or {}).get(name)
        if not isinstance(prop, Mapping):
            raise TicketApiError(f"Notion database has no property {name!r}")
        return str(prop.get("type"))

    def fetch(self, config: Mapping[str, Any]) -> list[Ticket]:
        query: dict[str, Any] = {"page_size": PAGE_SIZE}
        found = notion_filter(config, self._status_type(config))
        if found is not None:
            query["filter"] = found
        tickets: list[Ticket] = []
        for _ in range(MAX_PAGES):
            page = self._call("POST", f"/v1/databases/{config['databaseId']}/query", query)
            tickets += [notion_ticket(p, config.get("labelsProperty")) for p in page.get("results") or []
                        if not p.get("archived") and not p.get("in_trash")]
            if not page.get("has_more") or not page.get("next_cursor"):
                break
            query["start_cursor"] = page["next_cursor"]
        return tickets

    def comment(self, page_id: str, text: str) -> None:
        self._call("POST", "/v1/comments", {"parent": {"page_id": page_id},
                                            "rich_text": [{"type": "text", "text": {"content": text}}]})

    def move_to(self, config: Mapping[str, Any], page_id: str) -> bool:
        """Sets the page's state property to the done state (`Done` unless configured); False
        when no state property is configured."""
        if not config.get("statusProperty"):
            return False
        kind = self._status_type(config)
        self._call("PATCH", f"/v1/pages/{page_id}", {"properties": {
            config["statusProperty"]: {kind: {"name": config.get("doneState") or "Done"}}}})
        return True
