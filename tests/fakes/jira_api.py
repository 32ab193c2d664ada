"""A loopback stand-in for Jira Cloud's REST API v3, as Atlassian documents it: issues found by
JQL (`POST /rest/api/3/search/jql`, paged by `nextPageToken` with `isLast`), comments in Atlassian
Document Format, and workflow transitions; Basic auth (email and API token); 429 with
`Retry-After` when throttled; errors as `{"errorMessages": [...], "errors": {}}`.

The JQL understood is what a provider sends (`project = "X"`, `labels = "x"`,
`statusCategory != Done`, joined by AND, `ORDER BY created ASC`); anything else is a 400 as Jira
answers a query it cannot parse."""
from __future__ import annotations

import base64
import itertools
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

NOW = "2026-12-01T09:00:00.000+0000"
# The default workflow: its statuses and their categories (new, indeterminate, done).
STATUSES = {"To Do": ("1", "new", "To Do"), "In Progress": ("3", "indeterminate", "In Progress"),
            "Done": ("10001", "done", "Done")}
_CLAUSE = re.compile(r'^(project|labels)\s*=\s*"((?:[^"\\]|\\.)*)"$|^statusCategory\s*!=\s*Done$')


class FakeJira:
    def __init__(self, email: str = "bot@acme.test", api_token: str = "jira-token", page_size: int = 2) -> None:
        self.email = email
        self.api_token = api_token
        self.page_size = page_size
        self.issues: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self.requests: list[tuple[str, str]] = []
        self._throttle: list[int] = []
        self._ids = itertools.count(10000)
        self._lock = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-jira", daemon=True)

    def start(self) -> FakeJira:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- test hooks -------------------------------------------------------------------------
    def add_issue(self, project: str, summary: str, description: str = "", labels: tuple[str, ...] = (),
                  status: str = "To Do") -> dict[str, Any]:
        with self._lock:
            number = sum(1 for key in self.issues if key.startswith(f"{project}-")) + 1
            key = f"{project}-{number}"
            self.issues[key] = {"id": str(next(self._ids)), "key": key, "_project": project, "_status": status,
                                "_created": len(self.issues), "summary": summary, "labels": list(labels),
                                "description": _adf(description) if description else None}
            return self.issues[key]

    def status_of(self, key: str) -> str:
        return str(self.issues[key]["_status"])

    def comment_texts(self, key: str) -> list[str]:
        return [_text(c["body"]) for c in self.comments.get(key, [])]

    def throttle_once(self, retry_after: int = 1) -> None:
        with self._lock:
            self._throttle.append(retry_after)

    # -- the API ----------------------------------------------------------------------------
    def handle(self, method: str, path: str, body: Any, auth: str | None) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self.requests.append((method, path))
            if self._throttle:
                wait = self._throttle.pop(0)
                return 429, {"errorMessages": ["Rate limit exceeded."], "errors": {}}, {"Retry-After": str(wait)}
            expected = "Basic " + base64.b64encode(f"{self.email}:{self.api_token}".encode()).decode()
            if auth != expected:
                return 401, {"errorMessages": ["Client must be authenticated to access this resource."],
                             "errors": {}}, {}
            return self._route(method, path, body)

    def _route(self, method: str, path: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        if path == "/rest/api/3/search/jql" and method == "POST":
            return self._search(body or {})
        m = re.fullmatch(r"/rest/api/3/issue/([^/]+)/(comment|transitions)", path)
        issue = self.issues.get(unquote(m.group(1))) if m else None
        if m is None or issue is None:
            return 404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."],
                         "errors": {}}, {}
        if m.group(2) == "comment" and method == "POST":
            document = (body or {}).get("body")
            if not isinstance(document, dict) or document.get("type") != "doc" or document.get("version") != 1:
                return 400, {"errorMessages": [], "errors": {"comment": "Comment body is not valid!"}}, {}
            comment = {"id": str(next(self._ids)), "self": f"{self.url}{path}/{len(self.comments)}",
                       "author": {"emailAddress": self.email, "displayName": "Optio"}, "body": document,
                       "created": NOW, "updated": NOW}
            self.comments.setdefault(issue["key"], []).append(comment)
            return 201, comment, {}
        if m.group(2) == "transitions" and method == "GET":
            return 200, {"expand": "transitions", "transitions": [
                _transition(name) for name in STATUSES if name != issue["_status"]]}, {}
        if m.group(2) == "transitions" and method == "POST":
            wanted = str(((body or {}).get("transition") or {}).get("id"))
            target = next((name for name in STATUSES if STATUSES[name][0] == wanted and name != issue["_status"]), None)
            if target is None:
                return 400, {"errorMessages": [f"Transition id '{wanted}' is not valid for this issue."],
                             "errors": {}}, {}
            issue["_status"] = target
            return 204, None, {}
        return 405, {"errorMessages": ["Method not allowed"], "errors": {}}, {}

    def _search(self, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        jql = str(body.get("jql") or "")
        where, _, order = jql.partition(" ORDER BY ")
        if order and order.strip() != "created ASC":
            return 400, {"errorMessages": [f"Unsupported ORDER BY in '{jql}'."], "errors": {}}, {}
        tests = []
        for clause in (c.strip() for c in where.split(" AND ")):
            match = _CLAUSE.match(clause)
            if not match:
                return 400, {"errorMessages": [f"Error in the JQL Query: cannot parse '{clause}'."], "errors": {}}, {}
            tests.append((match.group(1), re.sub(r"\\(.)", r"\1", match.group(2) or "")))
        found = sorted((i for i in self.issues.values() if all(_holds(i, t) for t in tests)),
                       key=lambda i: i["_created"])
        size = min(int(body.get("maxResults") or 50), self.page_size)
        start = int(body.get("nextPageToken") or 0)
        page = found[start:start + size]
        fields = body.get("fields") or ["summary"]
        answer: dict[str, Any] = {"issues": [self._issue_json(i, fields) for i in page],
                                  "isLast": start + size >= len(found)}
        if not answer["isLast"]:
            answer["nextPageToken"] = str(start + size)
        return 200, answer, {}

    def _issue_json(self, issue: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        status_id, category, name = STATUSES[issue["_status"]]
        every = {"summary": issue["summary"], "description": issue["description"], "labels": issue["labels"],
                 "assignee": None, "status": {"id": status_id, "name": name,
                                              "statusCategory": {"key": category, "name": name}}}
        return {"id": issue["id"], "key": issue["key"], "self": f"{self.url}/rest/api/3/issue/{issue['id']}",
                "fields": {k: v for k, v in every.items() if k in fields}}


def _holds(issue: dict[str, Any], test: tuple[str | None, str]) -> bool:
    field, value = test
    if field == "project":
        return bool(issue["_project"] == value)
    if field == "labels":
        return value in issue["labels"]
    return STATUSES[issue["_status"]][1] != "done"


def _transition(name: str) -> dict[str, Any]:
    status_id, category, _ = STATUSES[name]
    return {"id": status_id, "name": name, "hasScreen": False, "isGlobal": True, "isInitial": False,
            "isAvailable": True, "isConditional": False,
            "to": {"id": status_id, "name": name, "statusCategory": {"key": category, "name": name}}}


def _adf(text: str) -> dict[str, Any]:
    return {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": line}]} for line in text.splitlines()]}


def _text(node: Any) -> str:
    if not isinstance(node, dict):
        return ""
    if node.get("type") == "text":
        return str(node.get("text", ""))
    return "".join(_text(child) for child in node.get("content") or [])


def _handler_for(fake: FakeJira) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

        def _serve(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, payload, headers = fake.handle(self.command, urlsplit(self.path).path,
                                                   json.loads(raw) if raw else None, self.headers.get("Authorization"))
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _serve

    return Handler
