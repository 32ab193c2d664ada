"""A loopback stand-in for Notion's public API (version 2022-06-28), as Notion documents it: a
database's schema (`GET /v1/databases/{id}`), its pages by query (`POST .../query` with a
filter on `status`, `select` and `multi_select` properties, paged by `start_cursor` with
`has_more` and `next_cursor`), a page's properties updated (`PATCH /v1/pages/{id}`), and comments
(`POST /v1/comments`). Bearer auth and the `Notion-Version` header are required; errors are
`{"object": "error", "status", "code", "message"}`; 429 `rate_limited` with `Retry-After`."""
from __future__ import annotations

import itertools
import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

NOW = "2026-12-01T09:00:00.000Z"


def _error(status: int, code: str, message: str) -> tuple[int, Any, dict[str, str]]:
    return status, {"object": "error", "status": status, "code": code, "message": message}, {}


class FakeNotion:
    def __init__(self, token: str = "secret_notion_test", page_size: int = 2) -> None:
        self.token = token
        self.page_size = page_size
        self.databases: dict[str, dict[str, Any]] = {}
        self.pages: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self.requests: list[tuple[str, str]] = []
        self._throttle: list[int] = []
        self._order = itertools.count()
        self._lock = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-notion", daemon=True)

    def start(self) -> FakeNotion:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- test hooks -------------------------------------------------------------------------
    def add_database(self, status_type: str = "status") -> str:
        """A tasks database: Name (title), Status (`status` or `select`), Tags (multi-select)."""
        database_id = str(uuid.uuid4())
        options = [{"id": str(uuid.uuid4()), "name": n, "color": "default"} for n in ("Not started", "In progress", "Done")]
        self.databases[database_id] = {
            "object": "database", "id": database_id, "title": [_rich("Tasks")], "archived": False,
            "properties": {"Name": {"id": "title", "name": "Name", "type": "title", "title": {}},
                           "Status": {"id": "st", "name": "Status", "type": status_type, status_type: {"options": options}},
                           "Tags": {"id": "tg", "name": "Tags", "type": "multi_select", "multi_select": {"options": []}}},
        }
        return database_id

    def add_page(self, database_id: str, title: str, status: str = "Not started",
                 tags: tuple[str, ...] = ()) -> dict[str, Any]:
        kind = self.databases[database_id]["properties"]["Status"]["type"]
        page_id = str(uuid.uuid4())
        page = {
            "object": "page", "id": page_id, "created_time": NOW, "last_edited_time": NOW,
            "archived": False, "in_trash": False, "_order": next(self._order),
            "url": f"https://www.notion.so/{title.replace(' ', '-')}-{page_id.replace('-', '')}",
            "parent": {"type": "database_id", "database_id": database_id},
            "properties": {
                "Name": {"id": "title", "type": "title", "title": [_rich(title)]},
                "Status": {"id": "st", "type": kind, kind: {"id": "s", "name": status, "color": "default"}},
                "Tags": {"id": "tg", "type": "multi_select",
                         "multi_select": [{"id": "t", "name": t, "color": "default"} for t in tags]},
            },
        }
        self.pages[page_id] = page
        return self._page_json(page)

    def status_of(self, page_id: str) -> str:
        prop = self.pages[page_id]["properties"]["Status"]
        return str(prop[prop["type"]]["name"])

    def comment_texts(self, page_id: str) -> list[str]:
        return ["".join(r["plain_text"] for r in c["rich_text"]) for c in self.comments.get(page_id, [])]

    def throttle_once(self, retry_after: int = 1) -> None:
        with self._lock:
            self._throttle.append(retry_after)

    # -- the API ----------------------------------------------------------------------------
    def handle(self, method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self.requests.append((method, path))
            if self._throttle:
                wait = self._throttle.pop(0)
                status, payload, _ = _error(429, "rate_limited", "You have been rate limited. Please try again in a few minutes.")
                return status, payload, {"Retry-After": str(wait)}
            if headers.get("authorization") != f"Bearer {self.token}":
                return _error(401, "unauthorized", "API token is invalid.")
            if not headers.get("notion-version"):
                return _error(400, "missing_version", "Notion-Version header failed validation.")
            return self._route(method, path, body or {})

    def _route(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        m = re.fullmatch(r"/v1/databases/([^/]+)(/query)?", path)
        if m:
            database = self.databases.get(m.group(1))
            if database is None:
                return _error(404, "object_not_found", f"Could not find database with ID: {m.group(1)}.")
            if not m.group(2) and method == "GET":
                return 200, database, {}
            if m.group(2) and method == "POST":
                return self._query(m.group(1), body)
        m = re.fullmatch(r"/v1/pages/([^/]+)", path)
        if m and method == "PATCH":
            page = self.pages.get(m.group(1))
            if page is None:
                return _error(404, "object_not_found", f"Could not find page with ID: {m.group(1)}.")
            for name, value in (body.get("properties") or {}).items():
                prop = page["properties"].get(name)
                if prop is None or prop["type"] not in value:
                    return _error(400, "validation_error", f"{name} is not a property that exists or is a {prop and prop['type']}.")
                prop[prop["type"]] = {"id": "s", "name": value[prop["type"]]["name"], "color": "default"}
            page["last_edited_time"] = NOW
            return 200, self._page_json(page), {}
        if path == "/v1/comments" and method == "POST":
            page_id = (body.get("parent") or {}).get("page_id")
            if page_id not in self.pages:
                return _error(404, "object_not_found", f"Could not find page with ID: {page_id}.")
            rich = [{**r, "plain_text": (r.get("text") or {}).get("content", "")} for r in body.get("rich_text") or []]
            comment = {"object": "comment", "id": str(uuid.uuid4()), "parent": {"type": "page_id", "page_id": page_id},
                       "discussion_id": str(uuid.uuid4()), "created_time": NOW, "last_edited_time": NOW,
                       "created_by": {"object": "user", "id": "bot"}, "rich_text": rich}
            self.comments.setdefault(page_id, []).append(comment)
            return 200, comment, {}
        return _error(400, "invalid_request_url", "Invalid request URL.")

    def _query(self, database_id: str, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        found = sorted((p for p in self.pages.values() if p["parent"]["database_id"] == database_id
                        and _matches(p, body.get("filter"))), key=lambda p: p["_order"])
        size = min(int(body.get("page_size") or 100), self.page_size)
        start = int(body.get("start_cursor") or 0)
        page = found[start:start + size]
        more = start + size < len(found)
        return 200, {"object": "list", "results": [self._page_json(p) for p in page],
                     "next_cursor": str(start + size) if more else None, "has_more": more,
                     "type": "page_or_database", "page_or_database": {}}, {}

    @staticmethod
    def _page_json(page: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in page.items() if not k.startswith("_")}


def _matches(page: dict[str, Any], where: Any) -> bool:
    if not where:
        return True
    if "and" in where:
        return all(_matches(page, w) for w in where["and"])
    prop = page["properties"].get(where.get("property"))
    if prop is None:
        return False
    for kind in ("status", "select"):
        if kind in where:
            return bool(prop["type"] == kind and prop[kind]["name"] == where[kind]["equals"])
    if "multi_select" in where:
        return where["multi_select"]["contains"] in [o["name"] for o in prop.get("multi_select") or []]
    return False


def _rich(text: str) -> dict[str, Any]:
    return {"type": "text", "text": {"content": text, "link": None}, "plain_text": text, "href": None,
            "annotations": {"bold": False, "italic": False, "strikethrough": False, "underline": False,
                            "code": False, "color": "default"}}


def _handler_for(fake: FakeNotion) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

        def _serve(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, payload, headers = fake.handle(self.command, urlsplit(self.path).path,
                                                   json.loads(raw) if raw else None,
                                                   {k.lower(): v for k, v in self.headers.items()})
            data = json.dumps(payload).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _serve

    return Handler
