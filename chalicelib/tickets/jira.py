"""Jira Cloud over its REST API v3: issues found by JQL (`/rest/api/3/search/jql`, paged by
`nextPageToken`), comments, and transitions. Basic auth with the account's email and API token."""
from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from chalicelib.core.tickets import Ticket, adf_paragraph, jira_jql, jira_ticket

from .rest import call

FIELDS = ["summary", "description", "labels", "assignee", "status"]
PAGE_SIZE = 50
MAX_PAGES = 20


class Jira:
    def __init__(self, site: str, email: str, api_token: str) -> None:
        self.site = site.rstrip("/")
        token = base64.b64encode(f"{email}:{api_token}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}"}

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        return call("Jira", method, f"{self.site}{path}", self._headers, body)

    def fetch(self, config: Mapping[str, Any]) -> list[Ticket]:
        tickets: list[Ticket] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            body: dict[str, Any] = {"jql": jira_jql(config), "fields": FIELDS, "maxResults": PAGE_SIZE}
            if token:
                body["nextPageToken"] = token
            page = self._call("POST", "/rest/api/3/search/jql", body)
            tickets += [jira_ticket(self.site, issue) for issue in page.get("issues") or []]
            token = page.get("nextPageToken")
            if page.get("isLast", True) or not token:
                break
        return tickets

    def comment(self, key: str, text: str) -> None:
        self._call("POST", f"/rest/api/3/issue/{quote(key)}/comment", {"body": adf_paragraph(text)})

    def move_to(self, key: str, state: str | None) -> bool:
        """Applies the transition to `state` (a status name, any case), or to the first status in
        the done category when None. False when the workflow offers no such transition now."""
        offered = self._call("GET", f"/rest/api/3/issue/{quote(key)}/transitions").get("transitions") or []
        for transition in offered:
            to = transition.get("to") or {}
            if (str(to.get("name", "")).lower() == state.lower() if state else
                    (to.get("statusCategory") or {}).get("key") == "done"):
                self._call("POST", f"/rest/api/3/issue/{quote(key)}/transitions",
                           {"transition": {"id": str(transition["id"])}})
                return True
        return False
