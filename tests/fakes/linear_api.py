"""A loopback stand-in for Linear's GraphQL API: answers the `issues(filter:, first:, after:)`
query with Linear's connection shape, applying the team, state, project and label filters; the
`workflowStates(filter:)` query of a team; and the `commentCreate(input:)` and
`issueUpdate(id:, input:)` mutations, each answering `{success}` as Linear's payloads do."""
from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Every team's workflow states (name, type), as a new Linear team has them.
STATES = (("Backlog", "backlog"), ("Todo", "unstarted"), ("In Progress", "started"), ("Done", "completed"),
          ("Canceled", "canceled"))


class FakeLinear:
    def __init__(self, api_key: str = "lin_api_test", page_size: int = 2) -> None:
        self.api_key = api_key
        self.page_size = page_size
        self.issues: list[dict[str, Any]] = []
        self.queries: list[dict[str, Any]] = []
        self.comments: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/graphql"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-linear", daemon=True)

    def start(self) -> FakeLinear:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_issue(self, team: str, title: str, description: str = "", labels: tuple[str, ...] = (),
                  state_type: str = "unstarted", project: str | None = None) -> dict[str, Any]:
        with self._lock:
            number = len(self.issues) + 1
            issue = {"id": str(uuid.uuid4()), "identifier": f"{team}-{number}", "title": title,
                     "description": description, "url": f"https://linear.app/acme/issue/{team}-{number}",
                     "updatedAt": "2026-01-01T00:00:00.000Z", "assignee": None,
                     "labels": {"nodes": [{"name": name} for name in labels]},
                     "_team": team, "_state": state_type, "_project": project}
            self.issues.append(issue)
            return issue

    def answer(self, auth: str | None, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if auth != self.api_key:
            return 400, {"errors": [{"message": "Authentication required, not authenticated",
                                     "extensions": {"code": "AUTHENTICATION_ERROR"}}]}
        with self._lock:
            self.queries.append(body)
            variables = body.get("variables") or {}
            query = body.get("query", "")
            if "commentCreate(" in query:
                given = variables.get("input") or {}
                if not self._issue(given.get("issueId")) or not given.get("body"):
                    return 200, {"data": None, "errors": [{"message": "Entity not found: Issue"}]}
                self.comments.setdefault(given["issueId"], []).append(given["body"])
                return 200, {"data": {"commentCreate": {"success": True}}}
            if "workflowStates(" in query:
                team = (((variables.get("filter") or {}).get("team") or {}).get("key") or {}).get("eq")
                return 200, {"data": {"workflowStates": {"nodes": [
                    {"id": f"{team}:{name}", "name": name, "type": kind} for name, kind in STATES]}}}
            if "issueUpdate(" in query:
                issue = self._issue(variables.get("id"))
                state_id = str((variables.get("input") or {}).get("stateId") or "")
                team, _, name = state_id.partition(":")
                kind = dict(STATES).get(name)
                if issue is None or kind is None or team != issue["_team"]:
                    return 200, {"data": None, "errors": [{"message": "Entity not found"}]}
                issue["_state"], issue["_state_name"] = kind, name
                return 200, {"data": {"issueUpdate": {"success": True}}}
            if "issues(" not in query:
                return 400, {"errors": [{"message": "unsupported query"}]}
            found = [i for i in self.issues if _matches(i, variables.get("filter") or {})]
            start = int(variables.get("after") or 0)
            page = found[start:start + self.page_size]
            end = start + len(page)
            nodes = [{k: v for k, v in i.items() if not k.startswith("_")} for i in page]
            return 200, {"data": {"issues": {"nodes": nodes, "pageInfo": {
                "hasNextPage": end < len(found), "endCursor": str(end)}}}}


    def _issue(self, issue_id: Any) -> dict[str, Any] | None:
        return next((i for i in self.issues if i["id"] == issue_id), None)

    def state_of(self, issue_id: str) -> str:
        issue = self._issue(issue_id)
        assert issue is not None
        return str(issue.get("_state_name") or issue["_state"])


def _matches(issue: dict[str, Any], where: dict[str, Any]) -> bool:
    team = ((where.get("team") or {}).get("key") or {}).get("eq")
    if team and issue["_team"] != team:
        return False
    excluded = ((where.get("state") or {}).get("type") or {}).get("nin") or []
    if issue["_state"] in excluded:
        return False
    project = ((where.get("project") or {}).get("id") or {}).get("eq")
    if project and issue["_project"] != project:
        return False
    label = (((where.get("labels") or {}).get("some") or {}).get("name") or {}).get("eq")
    return not (label and label not in [n["name"] for n in issue["labels"]["nodes"]])


def _handler_for(fake: FakeLinear) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, payload = fake.answer(self.headers.get("Authorization"), json.loads(raw or b"{}"))
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
