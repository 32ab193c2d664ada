"""Live logs: from an agent printing a line to the line on the task page (issue 21.1), against
local mode as `make dev` runs it, in Debian's Chromium. The stand-in agent prints each line when
the bench drops it a file ([fake:echo-dir]) and stamps the time it printed it; the page notes the
time the line appears (both clocks are this machine's). The line travels: the runner's log
batch (OPTIO_LOG_FLUSH_MS, 500 ms by default) -> the API -> the logs table's stream -> the
fan-out -> the WebSocket -> the page. Goal: p95 under 1 s.

    .venv/bin/python bench/live_logs.py [--lines 30]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from bench.spine import pct  # noqa: E402
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.support.gitrepo import make_bare_repo  # noqa: E402
from tests.support.localmode import start_local_mode  # noqa: E402
from tests.support.waiting import wait_for  # noqa: E402

GOAL_MS = 1000
# Notes when each log line enters the page, by its text.
WATCH = """
window.__shown = {};
new MutationObserver((changes) => {
  for (const change of changes) for (const node of change.addedNodes) {
    if (node.nodeType === 1 && node.textContent) window.__shown[node.textContent] = Date.now();
  }
}).observe(document, { childList: true, subtree: true });
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=30)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="optio-bench-live-"))
    mode = start_local_mode(work, shared_store=False)
    try:
        cue = work / "cue"
        cue.mkdir()
        repo = mode.api.ok("POST", "/api/repos", {"repoUrl": str(make_bare_repo(work))}, status=201)
        task = mode.api.ok("POST", "/api/tasks", {"repoId": repo["id"], "title": "Live bench",
                                                  "prompt": f"[fake:echo-dir={cue}] go"}, status=201)
        mode.api.wait_state(task["id"], "running")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            context = browser.new_context(base_url=mode.url)
            context.add_cookies([{"name": "optio_session", "value": mode.token, "url": mode.url}])
            page = context.new_page()
            page.add_init_script(WATCH)
            page.goto(f"/tasks/{task['id']}")
            page.wait_for_selector('section[data-live="true"]', timeout=60_000)
            latencies = []
            for n in range(args.lines):
                text = f"bench line {n:03d}"
                (cue / f".{n:03d}").write_text(text)
                (cue / f".{n:03d}").rename(cue / f"{n:03d}")
                page.wait_for_function(
                    f"Object.keys(window.__shown).some(k => k.includes({text!r} + ' @'))", timeout=60_000)
                shown = page.evaluate(
                    f"Object.entries(window.__shown).find(([k]) => k.includes({text!r} + ' @'))")
                printed = float(shown[0].split(" @")[1].split()[0])
                latencies.append(shown[1] - printed * 1000)
                time.sleep(0.2)  # lines apart, as an agent prints them; not part of any measure
            browser.close()
        (cue / "end").write_text("")
        wait_for(lambda: mode.api.task(task["id"])["state"] != "running", timeout_s=60, what="the task to end")
    finally:
        mode.stop()
    p50, p95 = pct(latencies, .5), pct(latencies, .95)
    print(f"live logs, agent print -> line on the page ({len(latencies)} lines, WebSocket, local mode):")
    print(f"  p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {max(latencies):.0f} ms "
          f"(goal: p95 < {GOAL_MS} ms: {'met' if p95 < GOAL_MS else 'NOT met'})")


if __name__ == "__main__":
    main()
