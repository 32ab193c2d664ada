"""The task page's log viewer (issue 21.3) with a 5,000- and a 50,000-line log, in headless
Chromium against local mode: time from navigation to the newest lines on screen (median of 5
loads), and frame times while the list scrolls (every frame moves it 2,000 px, 120 frames): once
through the newest 200 lines read on open, once through the whole log after Download has read
it all, with the main thread's own work per frame (script, layout, style). Also how many rows
the DOM holds at most.

    .venv/bin/python bench/log_viewer.py [--lines 5000 50000]

The log lines are written with the store's own `logs.append` (what the runner's channel calls),
to a finished task: the agent need not print 50,000 lines for the figures.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from chalicelib.local.dynamodb_local import DynamoDBLocal  # noqa: E402
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.support.gitrepo import make_bare_repo  # noqa: E402
from tests.support.localmode import LocalMode, start_local_mode  # noqa: E402

FRAMES = 120
# Scrolls the log box by `step` px a frame from where it is, `direction` -1 (up) or 1, and returns
# each frame's time (ms) and the most rows the list held.
SCROLL = """async ([frames, step]) => {
  const box = document.querySelector(".log-scroll");
  const times = [];
  let most = 0;
  let last = performance.now();
  for (let i = 0; i < frames; i += 1) {
    box.scrollTop = Math.max(0, box.scrollTop - step);
    if (box.scrollTop === 0) box.scrollTop = box.scrollHeight;  // round again from the end
    await new Promise((done) => requestAnimationFrame(done));
    const now = performance.now();
    times.push(now - last);
    last = now;
    most = Math.max(most, document.querySelectorAll(".logs li").length);
  }
  return [times, most];
}"""


def seed(mode: LocalMode, repo: dict[str, Any], count: int) -> tuple[str, str]:
    """A finished task with `count` more log lines; its id and its newest line's text."""
    from chalicelib.store import logs

    task = mode.api.ok("POST", "/api/tasks", {"repoId": repo["id"], "title": f"{count:,} lines",
                                              "prompt": "[fake:noop] x"}, status=201)["id"]
    mode.api.wait_state(task, {"completed", "needs_attention"}, timeout_s=120)
    for start in range(0, count, 100):  # as the runner sends them: batches of up to 100
        logs.append(task, 1, [logs.LogLine("text", f"Bench line {n + 1} of {count} " + "x" * 60, "2026-12-02T00:00:00.000Z")
                              for n in range(start, min(count, start + 100))])
    return str(task), f"Bench line {count} of {count}"


def first_lines_ms(page: Page, task: str, newest: str) -> float:
    page.goto(f"/tasks/{task}")
    page.wait_for_function("(text) => [...document.querySelectorAll('.logs li')].some((r) => r.textContent.includes(text))",
                           arg=newest, timeout=60_000)
    return float(page.evaluate("performance.now()"))


WORK = ("ScriptDuration", "LayoutDuration", "RecalcStyleDuration")


def frames(page: Page) -> str:
    # Frame times are wall time: on a loaded machine they include waiting for a core. The main
    # thread's own work (script, layout, style; Chromium's Performance metrics) is the viewer's.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")

    def work() -> float:
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        return sum(metrics[name] for name in WORK)

    before = work()
    times, most = page.evaluate(SCROLL, [FRAMES, 2000])
    spent = (work() - before) * 1000 / FRAMES
    ordered = sorted(times)
    p95 = ordered[round(0.95 * (len(ordered) - 1))]
    return (f"frames p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, max {max(times):.1f} ms; "
            f"main-thread work {spent:.1f} ms a frame; at most {most} rows in the DOM")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[5000, 50000])
    args = parser.parse_args()
    if not CHROMIUM.exists():
        sys.exit("Chromium is not installed: run `make browser`")
    tmp = Path(tempfile.mkdtemp(prefix="optio-bench-log-viewer-"))
    prefix = f"bench-lv-{uuid.uuid4().hex[:6]}-"
    with DynamoDBLocal(ROOT / ".deps", log_path=tmp / "dynamodb.log") as ddb:
        # Local mode and this process share one store: this process writes the lines.
        os.environ.update(OPTIO_DYNAMODB_ENDPOINT=ddb.endpoint, OPTIO_TABLE_PREFIX=prefix,
                          AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local", AWS_REGION="us-east-1")
        mode = start_local_mode(tmp, OPTIO_TABLE_PREFIX=prefix)
        try:
            repo = mode.api.ok("POST", "/api/repos", {"repoUrl": str(make_bare_repo(tmp))}, status=201)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                for count in args.lines:
                    task, newest = seed(mode, repo, count)
                    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=mode.url)
                    context.add_cookies([{"name": "optio_session", "value": mode.token, "url": mode.url}])
                    page = context.new_page()
                    opened = statistics.median(first_lines_ms(page, task, newest) for _ in range(5))
                    print(f"log of {count:,} lines: newest lines on screen {opened:.0f} ms after navigation (median of 5)")
                    print(f"  scrolling the newest lines read on open: {frames(page)}")
                    with page.expect_download(timeout=600_000):
                        page.get_by_role("button", name="Download").click()
                    page.wait_for_function("() => document.querySelector('.log-status').textContent.startsWith('Downloaded')")
                    print(f"  scrolling the whole log, all {count:,} lines held: {frames(page)}")
                    context.close()
                browser.close()
        finally:
            mode.stop()


if __name__ == "__main__":
    main()
