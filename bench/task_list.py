"""What an open task list transfers in a minute (issue 21.2): 200 tasks in local mode, the
requests one tab makes every 4 s replayed 15 times, the bytes downloaded counted as they cross
the socket (status line, headers and body, uncompressed HTTP/1.1 as local mode answers).

  - before: the page downloaded every task (`limit=200`, following `nextCursor`) each refresh,
    as the issue measured it; and the same with the browser revalidating each page by its ETag.
  - after: the loaded pages of 50 (1, or 4 after three "Load more") and the queue, each asked
    with its ETag (a page that did not change is a 304), rows holding only what the list shows
    (`view=summary`).

Idle is nothing changing; busy is one task changing before every refresh (a running task's
cost or state), which makes the page that holds it download again.

    .venv/bin/python bench/task_list.py [--tasks 200]
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chalicelib.local.dynamodb_local import DynamoDBLocal  # noqa: E402
from tests.support.gitrepo import make_bare_repo  # noqa: E402
from tests.support.localmode import LocalMode, start_local_mode  # noqa: E402
from tests.support.waiting import wait_for  # noqa: E402

REFRESHES_PER_MINUTE = 15  # one every 4 s


class Wire:
    """GETs against the API, counting the bytes downloaded."""

    def __init__(self, mode: LocalMode) -> None:
        self.mode, self.down = mode, 0
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {mode.token}"

    def get(self, path: str, etag: str | None = None) -> tuple[int, Any, str | None]:
        headers = {"If-None-Match": etag} if etag else {}
        response = self.session.get(self.mode.url + path, headers=headers, stream=True, timeout=60)
        body = response.raw.read(decode_content=False)
        head = len(f"HTTP/1.1 {response.status_code} {response.reason}\r\n") + sum(
            len(k) + len(v) + 4 for k, v in response.raw.headers.items()) + 2
        self.down += head + len(body)
        if response.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        return response.status_code, json.loads(body) if response.status_code == 200 else None, response.headers.get("ETag")


def before(revalidate: bool) -> Callable[[Wire], None]:
    """The old page's refresh: every task, 200 a page, following the cursor."""
    tags: dict[str, str] = {}

    def refresh(wire: Wire) -> None:
        cursor = None
        while True:
            path = "/api/tasks?type=repo-task&limit=200" + (f"&cursor={cursor}" if cursor else "")
            status, body, tag = wire.get(path, tags.get(path) if revalidate else None)
            if status == 304:
                return  # the same pages as before: their cursors too
            tags[path] = tag or ""
            cursor = body["nextCursor"]
            if not cursor:
                return

    return refresh


def after(pages: int) -> Callable[[Wire], None]:
    """The page's refresh: each loaded page by its cursor and ETag, then the queue (the first call
    loads them)."""
    loaded: list[dict[str, Any]] = []

    def refresh(wire: Wire) -> None:
        if not loaded:
            loaded.extend(first_load(wire, pages))
            return
        for page in loaded:
            status, _, tag = wire.get(page["path"], page["etag"])
            if status == 200:
                page["etag"] = tag

    return refresh


def first_load(wire: Wire, count: int) -> list[dict[str, Any]]:
    pages, cursor = [], None
    for _ in range(count):
        path = "/api/tasks?type=repo-task&view=summary&limit=50" + (f"&cursor={cursor}" if cursor else "")
        _, body, tag = wire.get(path)
        pages.append({"path": path, "etag": tag})
        cursor = body["nextCursor"]
    queue = "/api/tasks?type=repo-task&state=queued&sort=priority&view=summary&limit=50"
    return [*pages, {"path": queue, "etag": wire.get(queue)[2]}]


def per_minute(mode: LocalMode, refresh: Callable[[Wire], None], change: Callable[[], None] | None) -> int:
    wire = Wire(mode)
    refresh(wire)  # the first load is not a refresh
    wire.down = 0
    for _ in range(REFRESHES_PER_MINUTE):
        if change:
            change()
        refresh(wire)
    return wire.down


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=200)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="optio-bench-task-list-"))
    with DynamoDBLocal(ROOT / ".deps", log_path=tmp / "dynamodb.log") as ddb:
        mode = start_local_mode(tmp, OPTIO_DYNAMODB_ENDPOINT=ddb.endpoint, OPTIO_MAX_CONCURRENT="1")
        try:
            measure(mode, tmp, args.tasks)
        finally:
            mode.stop()


def measure(mode: LocalMode, tmp: Path, tasks: int) -> None:
    api = mode.api
    repo = api.ok("POST", "/api/repos", {"repoUrl": str(make_bare_repo(tmp))}, status=201)
    # Tasks waiting on one that holds on: none of them runs, so nothing changes unless told.
    blocker = api.ok("POST", "/api/tasks", {"repoId": repo["id"], "title": "Blocker", "prompt": "[fake:sleep=900] hold"},
                     status=201)["id"]
    ids = [api.ok("POST", "/api/tasks", {"repoId": repo["id"], "title": f"Fix the flaky test in module {n}",
                                         "prompt": "[fake:noop] x", "dependsOn": [blocker]}, status=201)["id"]
           for n in range(tasks - 1)]
    wait_for(lambda: api.task(ids[-1])["state"] == "waiting_on_deps", 120, what="the tasks to settle")
    wait_for(lambda: api.task(blocker)["state"] == "running", 120, what="the blocker to run")
    turn = iter(range(10**6))

    def busy() -> None:
        api.ok("PATCH", f"/api/tasks/{ids[-1]}", {"title": f"Fix the flaky test, take {next(turn)}"})

    print(f"task list, one open tab, {tasks} tasks, a refresh every 4 s: bytes downloaded per minute")
    ways: list[tuple[str, Callable[[], Callable[[Wire], None]]]] = [
        ("before: every task each refresh", lambda: before(revalidate=False)),
        ("before: every task, revalidated by ETag", lambda: before(revalidate=True)),
        ("after: 1 summary page of 50 + queue, by ETag", lambda: after(1)),
        ("after: 4 summary pages of 50 + queue, by ETag", lambda: after(4)),
    ]
    for label, way in ways:
        for case, change in (("idle", None), ("busy", busy)):
            print(f"  {label:<46} {case}: {per_minute(mode, way(), change) / 1024:8.1f} KiB")


if __name__ == "__main__":
    main()
