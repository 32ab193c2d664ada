"""Opens or finds the task's pull request after the push (SPEC §8), over GitHub's REST API with
the standard library: `GET /repos/o/r/pulls?head=o:branch&state=open`, else `POST /repos/o/r/pulls`.

Only for an https repository with `GITHUB_TOKEN` in the environment; local remotes get no PR.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

DEFAULT_API_URL = "https://api.github.com"
TIMEOUT_S = 20
_PR_URL = re.compile(r"https?://[^\s/]+/(?P<owner>[^\s/]+)/(?P<repo>[^\s/]+)/pull/(?P<number>\d+)")


class GitHubError(Exception):
    pass


@dataclass(frozen=True)
class PullRequest:
    url: str
    number: int
    created: bool


def full_name_of(repo_url: str) -> str | None:
    parts = urlsplit(repo_url)
    if parts.scheme != "https":
        return None
    path = parts.path.strip("/")
    if path.endswith(".git"):
        path = path[:-4]
    return path if path.count("/") == 1 else None


def pr_of_repo(text: str | None, full_name: str) -> tuple[str, int] | None:
    """A PR URL found in the agent's output counts only when it belongs to the task's repo."""
    for match in _PR_URL.finditer(text or ""):
        if f"{match.group('owner')}/{match.group('repo')}".lower() == full_name.lower():
            return match.group(0), int(match.group("number"))
    return None


def pr_body(summary: str | None, issue_number: int | None) -> str:
    parts = [summary.strip()] if summary and summary.strip() else []
    if issue_number is not None:
        parts.append(f"Closes #{issue_number}")
    parts.append("_Opened by Optio._")
    return "\n\n".join(parts)


class GitHub:
    def __init__(self, api_url: str, token: str) -> None:
        self.api_url = api_url.rstrip("/")
        self.token = token

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GitHub | None:
        token = env.get("GITHUB_TOKEN", "").strip()
        if not token:
            return None
        return cls(env.get("OPTIO_GITHUB_API_URL", "").strip() or DEFAULT_API_URL, token)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.api_url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "optio-runner",
            **({"Content-Type": "application/json"} if data is not None else {}),
        })
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            raise GitHubError(f"GitHub {method} {path} answered {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise GitHubError(f"GitHub {method} {path} failed: {exc}") from None
        return json.loads(raw) if raw else None

    def find_open_pr(self, full_name: str, branch: str) -> PullRequest | None:
        owner = full_name.split("/")[0]
        head = quote(f"{owner}:{branch}", safe="")
        found = self._call("GET", f"/repos/{full_name}/pulls?head={head}&state=open")
        for pr in found or []:
            return PullRequest(str(pr["html_url"]), int(pr["number"]), created=False)
        return None

    def open_or_find(self, full_name: str, branch: str, base: str, title: str, body: str) -> PullRequest:
        existing = self.find_open_pr(full_name, branch)
        if existing is not None:
            return existing
        try:
            pr = self._call("POST", f"/repos/{full_name}/pulls",
                            {"title": title, "head": branch, "base": base, "body": body})
        except GitHubError:
            # Opened meanwhile (a 422 "already exists"): find it, else the error stands.
            existing = self.find_open_pr(full_name, branch)
            if existing is None:
                raise
            return existing
        return PullRequest(str(pr["html_url"]), int(pr["number"]), created=True)
