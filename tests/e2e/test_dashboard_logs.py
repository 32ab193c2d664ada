"""The task page's log viewer (chalicelib/web/log-view.js) in headless Chromium against local mode:
a 10,000-line log written by the agent through the runner opens at its newest lines with only the
rows in view in the DOM, reads older pages as the reader scrolls up, finds lines not rendered (or
not read yet), downloads every line, and follows a running agent until the reader scrolls away."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import AXE, PHONE, WIDE, close, new_page, screenshot, serious_violations
from tests.support.localmode import LocalMode, start_local_mode
from tests.support.waiting import wait_for

# The agent prints 10,000 lines through the runner (a minute or more on a loaded machine), and the
# search and download tests read the whole log page by page: more than the suite's 300 s default.
pytestmark = [pytest.mark.xdist_group("e2e-dashboard-logs"), pytest.mark.timeout(900)]

# Fifty pages of the API: enough that only a virtualised list keeps its DOM small (the rows in
# the DOM do not grow with the log); bench/log_viewer.py times a 50,000-line one, which the suite
# would spend four minutes writing.
LINES = 10_000
# Well under what a fully rendered 10,000-line log would put in the DOM: the rows in view and a margin.
MAX_ROWS = 300


@pytest.fixture(scope="module")
def mode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMode]:
    mode = start_local_mode(tmp_path_factory.mktemp("logs"), OPTIO_MAX_CONCURRENT="2")
    yield mode
    mode.stop()


@pytest.fixture(scope="module")
def long_log(mode: LocalMode, repo: dict[str, Any]) -> tuple[str, int]:
    """A finished task whose agent printed LINES lines: its id and its highest sequence number."""
    task = mode.api.ok("POST", "/api/tasks", {"repoId": repo["id"], "title": "Very talkative",
                                              "prompt": f"[fake:lines={LINES}] [fake:noop] x"}, status=201)["id"]
    mode.api.wait_state(task, {"completed", "needs_attention"}, timeout_s=900)
    newest = mode.api.ok("GET", f"/api/tasks/{task}/logs?order=desc&limit=1")["items"][0]["seq"]
    return str(task), int(newest)


def rows_in_dom(page: Page) -> int:
    return int(page.locator(".logs li").count())


def held(page: Page) -> int:
    """How many lines the viewer holds, as it says above the list."""
    return int(page.locator(".log-held").inner_text().split()[0].replace(",", ""))


def at_end(page: Page) -> bool:
    return bool(page.locator(".log-scroll").evaluate("l => l.scrollHeight - l.scrollTop - l.clientHeight < 2"))


def test_a_10000_line_log_opens_at_its_newest_lines_with_few_rows_in_the_dom(page: Page, long_log: tuple[str, int]) -> None:
    task, _ = long_log
    reads: list[str] = []
    page.on("request", lambda request: reads.append(request.url) if f"/api/tasks/{task}/logs" in request.url else None)
    page.goto(f"/tasks/{task}")
    expect(page.locator(".logs")).to_contain_text(f"Line {LINES} of {LINES}")
    assert "order=desc" in reads[0], reads
    assert rows_in_dom(page) < MAX_ROWS
    assert at_end(page)
    expect(page.get_by_label("Follow")).to_be_checked()
    last = page.locator(".logs li").last
    expect(last.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))
    expect(last.locator("time")).to_have_text(re.compile(r"^\d+ (s|min|h|d) ago$"))
    expect(last.locator("time")).to_have_attribute("title", re.compile(r"\d"))  # the exact time on hover
    screenshot(page, "task-logs-long")


def test_scrolling_up_reads_older_lines_and_keeps_the_dom_small(page: Page, long_log: tuple[str, int]) -> None:
    task, _ = long_log
    reads: list[str] = []
    page.on("request", lambda request: reads.append(request.url) if "before=" in request.url else None)
    page.goto(f"/tasks/{task}")
    logs = page.locator(".logs")
    expect(logs).to_contain_text(f"Line {LINES} of {LINES}")
    page.locator(".log-scroll").focus()
    # Until the view has scrolled itself to the end, Home would not move it, and read nothing.
    wait_for(lambda: at_end(page), 30, what="the view at its end")
    for n in range(1, 5):  # four older pages of 200 lines
        # Home scrolls the list to its top, where the next older page is read; the reader stays
        # where they were, now 200 lines further from the top. One press per page: a second one
        # while the page is on its way would read the page after it too. The press waits for
        # the next frame: until then the compositor, which handles the key, may not know the
        # place the view just kept, take itself to be at the top still, and not move.
        page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
        with page.expect_response(lambda response: "before=" in response.url):
            page.keyboard.press("Home")
        wait_for(lambda: held(page) == 200 * (n + 1), 30, what=f"older page {n}")  # noqa: B023
    assert held(page) == 1000
    shown = logs.evaluate(r"l => Math.min(...[...l.querySelectorAll('li')].map((r) => Number(/Line (\d+)/.exec(r.textContent)?.[1] ?? Infinity)))")
    assert shown < LINES - 700, shown
    assert reads, "no older page was read"
    assert rows_in_dom(page) < MAX_ROWS
    expect(page.get_by_label("Follow")).not_to_be_checked()


def test_search_highlights_a_line_not_in_the_dom_and_finds_one_not_read_yet(page: Page, long_log: tuple[str, int]) -> None:
    task, _ = long_log
    page.goto(f"/tasks/{task}")
    logs = page.locator(".logs")
    expect(logs).to_contain_text(f"Line {LINES} of {LINES}")
    held = f"Line {LINES - 150} of {LINES}"  # in the newest page read, far above the rows in view
    expect(logs.locator("li", has_text=held)).to_have_count(0)
    page.get_by_label("Find", exact=True).fill(held)
    expect(logs.locator("li.current mark")).to_have_text(held)
    expect(logs.locator("li.current")).to_be_in_viewport()
    expect(page.locator(".log-status")).to_have_text("1 of 1+")
    # Not read yet: Enter (the previous, older match) reads older pages until one holds it.
    page.get_by_label("Find", exact=True).fill(f"Line 123 of {LINES}")
    expect(page.locator(".log-status")).to_contain_text("No match")
    page.get_by_label("Find", exact=True).press("Enter")
    expect(logs.locator("li.current mark")).to_have_text(f"Line 123 of {LINES}", timeout=180_000)
    assert rows_in_dom(page) < MAX_ROWS
    # Next match (newer) goes round to the same single match.
    page.get_by_role("button", name="Next", exact=True).click()
    expect(logs.locator("li.current mark")).to_have_text(f"Line 123 of {LINES}")
    screenshot(page, "task-logs-search")


def test_download_yields_every_line_once(page: Page, long_log: tuple[str, int]) -> None:
    task, newest = long_log
    page.goto(f"/tasks/{task}")
    expect(page.locator(".logs")).to_contain_text(f"Line {LINES} of {LINES}")
    with page.expect_download(timeout=300_000) as download:
        page.get_by_role("button", name="Download").click()
    saved = Path(download.value.path()).read_text().splitlines()
    assert [int(line.split("\t", 1)[0]) for line in saved] == list(range(1, newest + 1))
    numbered = [line for line in saved if re.search(rf"\tLine \d+ of {LINES}$", line)]
    assert len(numbered) == LINES
    expect(page.locator(".log-status")).to_have_text(f"Downloaded {newest:,} lines.")
    assert rows_in_dom(page) < MAX_ROWS


def test_the_type_filter_shows_one_type_of_line(page: Page, long_log: tuple[str, int]) -> None:
    task, _ = long_log
    page.goto(f"/tasks/{task}")
    expect(page.locator(".logs")).to_contain_text(f"Line {LINES} of {LINES}")
    page.get_by_label("Show").select_option("text")
    types = page.locator(".logs li").evaluate_all("rows => [...new Set(rows.map((r) => r.dataset.type))]")
    assert types == ["text"]


def test_follow_keeps_the_newest_line_in_view_until_the_reader_scrolls_away(browser: Browser, mode: LocalMode,  # noqa: F811
                                                                           repo: dict[str, Any]) -> None:
    task = mode.api.ok("POST", "/api/tasks", {"repoId": repo["id"], "title": "Working a while",
                                              "prompt": "[fake:sleep=120] [fake:noop] x"}, status=201)["id"]
    # A short window: the list is only a few rows high, so a few lines already scroll.
    page = new_page(browser, mode, viewport={"width": 1000, "height": 420})
    page.goto(f"/tasks/{task}")
    logs = page.locator(".logs")
    box = page.locator(".log-scroll")
    follow = page.get_by_label("Follow")

    def seconds_shown() -> int:
        found = re.findall(r"Still working \((\d+) s\)", logs.inner_text())
        return max(map(int, found), default=0)

    wait_for(lambda: box.evaluate("l => l.scrollHeight > l.clientHeight * 2"), 90, what="a log taller than its box")
    expect(follow).to_be_checked()
    shown = seconds_shown()
    wait_for(lambda: seconds_shown() > shown and at_end(page), 30, what="a newer line, followed")
    box.hover()
    page.mouse.wheel(0, -200)
    expect(follow).not_to_be_checked()
    top = box.evaluate("l => l.scrollTop")
    before = held(page)
    wait_for(lambda: held(page) > before + 1, 30, what="more lines while scrolled away")
    assert box.evaluate("l => l.scrollTop") == top and not at_end(page)
    page.get_by_role("button", name="Jump to end").click()
    expect(follow).to_be_checked()
    assert at_end(page)
    newest = mode.api.ok("GET", f"/api/tasks/{task}/logs?order=desc&limit=1")["items"][0]["seq"]
    expect(logs.locator(f'li[data-seq="{newest + 1}"]')).to_be_in_viewport(timeout=30_000)
    mode.api.ok("POST", f"/api/tasks/{task}/cancel")
    close(page)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_log_viewer_has_no_serious_accessibility_violation(browser: Browser, mode: LocalMode,  # noqa: F811
                                                               long_log: tuple[str, int], theme: str) -> None:
    if not AXE.exists():
        pytest.skip("axe-core is not installed: run `make axe`")
    task, _ = long_log
    page = new_page(browser, mode, viewport=WIDE)
    page.emulate_media(color_scheme=theme)  # type: ignore[arg-type]
    problems = {}
    for viewport in (WIDE, PHONE):
        page.set_viewport_size(viewport)  # type: ignore[arg-type]
        page.goto(f"/tasks/{task}")
        expect(page.locator(".logs")).to_contain_text(f"Line {LINES} of {LINES}")
        page.get_by_label("Find", exact=True).fill(f"Line {LINES - 3} of")
        expect(page.locator(".logs li.current")).to_have_count(1)
        found = serious_violations(page)
        if found:
            problems[viewport["width"]] = found
        screenshot(page, f"task-logs-{theme}-{viewport['width']}")
    close(page)
    assert not problems, problems
