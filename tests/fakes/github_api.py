"""A loopback stand-in for the GitHub REST API: the documented JSON shapes PyGithub and the
runner read, over real HTTP on 127.0.0.1 (http.server on a thread).

Every object's `url`/`html_url` is built from this server's own base URL, as PyGithub requires.
Test hooks (`set_checks`, `set_status`, `add_review`, `merge`, `close_pr`, `set_mergeable`,
`throttle_once`) change what the next request sees.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

NOW = "2026-01-01T00:00:00Z"


@dataclass
class Repo:
    owner: str
    name: str
    default_branch: str = "main"
    # Issues and pull requests share one number space, as on GitHub.
    items: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    review_comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    check_runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Commit statuses by sha, oldest first, every one ever created (GitHub keeps them all).
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


class FakeGitHub:
    def __init__(self, token: str = "ghp_test") -> None:
        self.token = token
        self.repos: dict[str, Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self.merges: list[tuple[str, int, str]] = []
        self._throttle: list[tuple[int, dict[str, str]]] = []
        self._ids = itertools.count(1000)
        self._lock = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-github", daemon=True)

    # -- life ------------------------------------------------------------------------------
    def start(self) -> FakeGitHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- test hooks ------------------------------------------------------------------------
    def add_repo(self, full_name: str) -> Repo:
        owner, name = full_name.split("/")
        with self._lock:
            return self.repos.setdefault(full_name.lower(), Repo(owner, name))

    def add_issue(self, full_name: str, title: str, body: str = "", labels: tuple[str, ...] = (),
                  assignee: str | None = None, updated_at: str = NOW) -> dict[str, Any]:
        repo = self.add_repo(full_name)
        with self._lock:
            number = len(repo.items) + 1
            issue = {
                "kind": "issue", "number": number, "title": title, "body": body, "state": "open",
                "labels": [self._label(repo, name) for name in labels],
                "assignee": {"login": assignee} if assignee else None,
                "assignees": [{"login": assignee}] if assignee else [],
                "created_at": NOW, "updated_at": updated_at, "closed_at": None,
            }
            repo.items[number] = issue
            return issue

    def add_comment(self, full_name: str, number: int, body: str) -> None:
        repo = self.add_repo(full_name)
        with self._lock:
            repo.comments.setdefault(number, []).append(self._comment(repo, number, body))

    def pulls(self, full_name: str) -> list[dict[str, Any]]:
        return [i for i in self.add_repo(full_name).items.values() if i["kind"] == "pull"]

    def issue(self, full_name: str, number: int) -> dict[str, Any]:
        return self.add_repo(full_name).items[number]

    def comments(self, full_name: str, number: int) -> list[str]:
        return [c["body"] for c in self.add_repo(full_name).comments.get(number, [])]

    def set_checks(self, full_name: str, sha: str, runs: list[tuple[str, str | None, str]]) -> None:
        """`runs`: (name, conclusion or None while in progress, output summary)."""
        repo = self.add_repo(full_name)
        with self._lock:
            repo.check_runs[sha] = [
                {"id": next(self._ids), "name": name, "head_sha": sha,
                 "status": "completed" if conclusion else "in_progress", "conclusion": conclusion,
                 "output": {"title": name, "summary": summary, "text": None},
                 "started_at": NOW, "completed_at": NOW if conclusion else None,
                 "html_url": f"{self.url}/checks/{name}", "url": f"{self._base(repo)}/check-runs/1"}
                for name, conclusion, summary in runs
            ]

    def set_status(self, full_name: str, sha: str, context: str, state: str, description: str = "",
                   target_url: str | None = None) -> dict[str, Any]:
        """A CI service reporting a commit status, through the documented create call."""
        code, status, _ = self.handle("POST", f"/repos/{full_name}/statuses/{sha}", {}, {
            "state": state, "context": context, "description": description, "target_url": target_url,
        }, f"token {self.token}")
        assert code == 201, status
        return status  # type: ignore[no-any-return]

    def add_review(self, full_name: str, number: int, state: str, body: str = "",
                   comments: tuple[tuple[str, int, str], ...] = ()) -> None:
        """`state`: APPROVED, CHANGES_REQUESTED or COMMENTED; `comments`: (path, line, body)."""
        repo = self.add_repo(full_name)
        with self._lock:
            review_id = next(self._ids)
            pr = repo.items[number]
            repo.reviews.setdefault(number, []).append({
                "id": review_id, "user": {"login": "reviewer", "id": 7}, "body": body, "state": state,
                "commit_id": pr["head"]["sha"], "submitted_at": NOW,
                "html_url": f"{pr['html_url']}#review-{review_id}",
                "pull_request_url": pr["url"],
            })
            for path, line, text in comments:
                repo.review_comments.setdefault(number, []).append({
                    "id": next(self._ids), "pull_request_review_id": review_id, "path": path,
                    "line": line, "body": text, "user": {"login": "reviewer", "id": 7},
                    "commit_id": pr["head"]["sha"], "created_at": NOW, "updated_at": NOW,
                    "url": f"{pr['url']}/comments", "html_url": pr["html_url"],
                })

    def set_head(self, full_name: str, number: int, sha: str) -> None:
        with self._lock:
            self.add_repo(full_name).items[number]["head"]["sha"] = sha

    def set_mergeable(self, full_name: str, number: int, mergeable: bool | None) -> None:
        with self._lock:
            pr = self.add_repo(full_name).items[number]
            pr["mergeable"] = mergeable
            pr["mergeable_state"] = {True: "clean", False: "dirty", None: "unknown"}[mergeable]

    def merge(self, full_name: str, number: int) -> None:
        with self._lock:
            pr = self.add_repo(full_name).items[number]
            pr.update(state="closed", merged=True, merged_at=NOW, closed_at=NOW)

    def close_pr(self, full_name: str, number: int) -> None:
        with self._lock:
            self.add_repo(full_name).items[number].update(state="closed", closed_at=NOW)

    def throttle_once(self, status: int = 403, retry_after: int | None = 1,
                      reset_in: int | None = None) -> None:
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        if reset_in is not None:
            headers["X-RateLimit-Remaining"] = "0"
            headers["X-RateLimit-Reset"] = str(int(time.time()) + reset_in)
        with self._lock:
            self._throttle.append((status, headers))

    # -- shapes ----------------------------------------------------------------------------
    def _base(self, repo: Repo) -> str:
        return f"{self.url}/repos/{repo.owner}/{repo.name}"

    def _create_status(self, repo: Repo, sha: str, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        """`POST /repos/{owner}/{repo}/statuses/{sha}`: `state` is required, `context` defaults to
        `default`; an unknown state is 422 with GitHub's validation error shape."""
        state = body.get("state")
        if state not in ("error", "failure", "pending", "success"):
            return 422, {"message": "Validation Failed", "errors": [
                {"resource": "Status", "field": "state", "code": "custom",
                 "message": "state is not included in the list"}]}, {}
        status_id = next(self._ids)
        status = {
            "url": f"{self._base(repo)}/statuses/{sha}", "avatar_url": None, "id": status_id,
            "node_id": f"SC_{status_id}", "state": state, "description": body.get("description"),
            "target_url": body.get("target_url"), "context": body.get("context") or "default",
            "created_at": NOW, "updated_at": NOW,
            "creator": {"login": "ci-bot", "id": 1, "type": "Bot"},
        }
        repo.statuses.setdefault(sha, []).append(status)
        return 201, status, {}

    def _combined_status(self, repo: Repo, sha: str, query: dict[str, str]) -> dict[str, Any]:
        """`GET .../commits/{ref}/status`: the latest status of each context, and the combined
        `state` over all of them, documented as failure if any is error or failure, pending if
        there are none or any is pending, else success. `statuses` is paged; the state is not."""
        latest: dict[str, dict[str, Any]] = {}
        for status in repo.statuses.get(sha, []):
            latest[status["context"]] = status
        states = {s["state"] for s in latest.values()}
        combined = ("failure" if states & {"error", "failure"} else
                    "pending" if not states or "pending" in states else "success")
        items = [{k: v for k, v in s.items() if k != "creator"} for s in latest.values()]
        return {
            "state": combined, "statuses": _page(items, query), "sha": sha, "total_count": len(items),
            "repository": self.repo_json(repo), "commit_url": f"{self._base(repo)}/commits/{sha}",
            "url": f"{self._base(repo)}/commits/{sha}/status",
        }

    def _label(self, repo: Repo, name: str, color: str = "ededed") -> dict[str, Any]:
        return repo.labels.setdefault(name, {
            "id": next(self._ids), "name": name, "color": color, "description": None, "default": False,
            "url": f"{self._base(repo)}/labels/{name}",
        })

    def _comment(self, repo: Repo, number: int, body: str) -> dict[str, Any]:
        comment_id = next(self._ids)
        return {"id": comment_id, "body": body, "user": {"login": "optio-bot", "id": 1},
                "created_at": NOW, "updated_at": NOW,
                "url": f"{self._base(repo)}/issues/comments/{comment_id}",
                "html_url": f"{self.url}/{repo.owner}/{repo.name}/issues/{number}#issuecomment-{comment_id}",
                "issue_url": f"{self._base(repo)}/issues/{number}"}

    def repo_json(self, repo: Repo) -> dict[str, Any]:
        return {"id": 1, "name": repo.name, "full_name": f"{repo.owner}/{repo.name}",
                "owner": {"login": repo.owner, "id": 2, "type": "Organization"},
                "private": False, "default_branch": repo.default_branch,
                "url": self._base(repo), "html_url": f"{self.url}/{repo.owner}/{repo.name}"}

    def issue_json(self, repo: Repo, item: dict[str, Any]) -> dict[str, Any]:
        number = item["number"]
        base = self._base(repo)
        out = {k: v for k, v in item.items() if k not in ("kind", "head", "base", "merged", "mergeable",
                                                           "mergeable_state", "merged_at")}
        out.update(id=number, url=f"{base}/issues/{number}",
                   html_url=f"{self.url}/{repo.owner}/{repo.name}/issues/{number}",
                   comments=len(repo.comments.get(number, [])), user={"login": "someone", "id": 3},
                   repository_url=base)
        if item["kind"] == "pull":
            out["html_url"] = item["html_url"]
            out["pull_request"] = {"url": item["url"], "html_url": item["html_url"]}
        return out

    def pull_json(self, repo: Repo, item: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in item.items() if k != "kind"}
        out.update(id=item["number"], user={"login": "optio-bot", "id": 1},
                   issue_url=f"{self._base(repo)}/issues/{item['number']}")
        return out

    def _new_pull(self, repo: Repo, body: dict[str, Any]) -> dict[str, Any]:
        number = len(repo.items) + 1
        head = str(body["head"]).split(":")[-1]
        pr = {
            "kind": "pull", "number": number, "title": body.get("title", ""), "body": body.get("body"),
            "state": "open", "labels": [], "assignee": None, "assignees": [],
            "created_at": NOW, "updated_at": NOW, "closed_at": None, "merged_at": None,
            "merged": False, "mergeable": True, "mergeable_state": "clean", "draft": False,
            "head": {"ref": head, "sha": hashlib.sha1(f"{head}#1".encode()).hexdigest(), "label": f"{repo.owner}:{head}"},
            "base": {"ref": body.get("base", repo.default_branch), "sha": "base-sha"},
            "url": f"{self._base(repo)}/pulls/{number}",
            "html_url": f"{self.url}/{repo.owner}/{repo.name}/pull/{number}",
        }
        repo.items[number] = pr
        return pr

    # -- routing ---------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, str], body: Any,
               auth: str | None) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self.requests.append((method, path))
            if self._throttle:
                status, headers = self._throttle.pop(0)
                return status, {"message": "API rate limit exceeded",
                                "documentation_url": "https://docs.github.com/rest"}, headers
            if auth not in (f"token {self.token}", f"Bearer {self.token}"):
                return 401, {"message": "Bad credentials"}, {}
            return self._route(method, path, query, body)

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any, dict[str, str]]:
        match = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/.*)?", path)
        if not match:
            if path == "/rate_limit":
                core = {"limit": 5000, "remaining": 4999, "reset": int(time.time()) + 3600, "used": 1}
                return 200, {"resources": {"core": core}, "rate": core}, {}
            return 404, {"message": "Not Found"}, {}
        repo = self.repos.get(f"{match.group(1)}/{match.group(2)}".lower())
        if repo is None:
            return 404, {"message": "Not Found"}, {}
        rest = match.group(3) or ""
        not_found = (404, {"message": "Not Found"}, {})
        if rest == "" and method == "GET":
            return 200, self.repo_json(repo), {}
        if rest == "/issues" and method == "GET":
            state = query.get("state", "open")
            items = [i for i in repo.items.values() if state == "all" or i["state"] == state]
            if query.get("labels"):
                wanted = set(query["labels"].split(","))
                items = [i for i in items if wanted <= {label["name"] for label in i["labels"]}]
            items.sort(key=lambda i: i["number"], reverse=True)
            return 200, [self.issue_json(repo, i) for i in items], {}
        m = re.fullmatch(r"/issues/(\d+)(/comments|/labels)?", rest)
        if m:
            item = repo.items.get(int(m.group(1)))
            if item is None:
                return not_found
            number = item["number"]
            if m.group(2) == "/comments":
                if method == "POST":
                    comment = self._comment(repo, number, body["body"])
                    repo.comments.setdefault(number, []).append(comment)
                    return 201, comment, {}
                return 200, repo.comments.get(number, []), {}
            if m.group(2) == "/labels" and method == "POST":
                names = body if isinstance(body, list) else body.get("labels", [])
                for name in names:
                    label = self._label(repo, name)
                    if label not in item["labels"]:
                        item["labels"].append(label)
                return 200, item["labels"], {}
            if method == "PATCH":
                for key in ("state", "title", "body"):
                    if key in body:
                        item[key] = body[key]
                if body.get("state") == "closed":
                    item["closed_at"] = NOW
                return 200, self.issue_json(repo, item), {}
            return 200, self.issue_json(repo, item), {}
        m = re.fullmatch(r"/labels(?:/([^/]+))?", rest)
        if m:
            if method == "POST":
                if body["name"] in repo.labels:
                    return 422, {"message": "Validation Failed", "errors": [{"code": "already_exists"}]}, {}
                return 201, self._label(repo, body["name"], body.get("color", "ededed")), {}
            if m.group(1) and m.group(1) in repo.labels:
                return 200, repo.labels[m.group(1)], {}
            return not_found
        if rest == "/pulls":
            if method == "POST":
                head = str(body["head"]).split(":")[-1]
                if any(i["kind"] == "pull" and i["state"] == "open" and i["head"]["ref"] == head
                       for i in repo.items.values()):
                    return 422, {"message": "Validation Failed",
                                 "errors": [{"message": f"A pull request already exists for {head}."}]}, {}
                return 201, self.pull_json(repo, self._new_pull(repo, body)), {}
            pulls = [i for i in repo.items.values() if i["kind"] == "pull"]
            state = query.get("state", "open")
            pulls = [p for p in pulls if state == "all" or p["state"] == state]
            if query.get("head"):
                pulls = [p for p in pulls if f"{repo.owner}:{p['head']['ref']}".lower() == query["head"].lower()]
            return 200, [self.pull_json(repo, p) for p in pulls], {}
        m = re.fullmatch(r"/pulls/(\d+)(/merge|/reviews|/comments)?", rest)
        if m:
            pr = repo.items.get(int(m.group(1)))
            if pr is None or pr["kind"] != "pull":
                return not_found
            number = pr["number"]
            if m.group(2) == "/merge" and method == "PUT":
                if pr["state"] != "open" or pr["mergeable"] is False:
                    return 405, {"message": "Pull Request is not mergeable"}, {}
                self.merges.append((f"{repo.owner}/{repo.name}", number, body.get("merge_method", "merge")))
                pr.update(state="closed", merged=True, merged_at=NOW, closed_at=NOW)
                return 200, {"sha": "merged-sha", "merged": True, "message": "Pull Request successfully merged"}, {}
            if m.group(2) == "/reviews":
                return 200, repo.reviews.get(number, []), {}
            if m.group(2) == "/comments":
                return 200, repo.review_comments.get(number, []), {}
            return 200, self.pull_json(repo, pr), {}
        m = re.fullmatch(r"/statuses/([^/]+)", rest)
        if m and method == "POST":
            return self._create_status(repo, m.group(1), body or {})
        m = re.fullmatch(r"/commits/([^/]+)(/check-runs|/status|/statuses)?", rest)
        if m:
            sha = m.group(1)
            if m.group(2) == "/check-runs":
                runs = repo.check_runs.get(sha, [])
                return 200, {"total_count": len(runs), "check_runs": runs}, {}
            if m.group(2) == "/status":
                return 200, self._combined_status(repo, sha, query), {}
            if m.group(2) == "/statuses":  # every status, newest first, paged
                return 200, _page(list(reversed(repo.statuses.get(sha, []))), query), {}
            return 200, {"sha": sha, "url": f"{self._base(repo)}/commits/{sha}",
                         "html_url": f"{self.url}/{repo.owner}/{repo.name}/commit/{sha}",
                         "commit": {"message": "", "url": f"{self._base(repo)}/git/commits/{sha}"}}, {}
        return not_found


def _page(items: list[dict[str, Any]], query: dict[str, str]) -> list[dict[str, Any]]:
    """GitHub's `per_page` (default 30, at most 100) and 1-based `page`."""
    per_page = max(1, min(100, int(query.get("per_page") or 30)))
    page = max(1, int(query.get("page") or 1))
    return items[(page - 1) * per_page:page * per_page]


def _handler_for(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = {}
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            status, payload, headers = fake.handle(self.command, parts.path, query, body,
                                                   self.headers.get("Authorization"))
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-RateLimit-Limit", "5000")
            self.send_header("X-RateLimit-Remaining", headers.pop("X-RateLimit-Remaining", "4999"))
            self.send_header("X-RateLimit-Reset", headers.pop("X-RateLimit-Reset", str(int(time.time()) + 3600)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    return Handler
