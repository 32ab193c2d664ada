"""The README's screenshots (`make screenshots`): the dashboard on the showcase store
(bench/showcase.py: 240 tasks, pull requests, costs, a 5,000-line log, schedules), each page at
1440x900 and the phone's menu at 390x844, in the light and in the dark theme, through Debian's
Chromium. Writes docs/screenshots/<name>.png and <name>-dark.png.

    .venv/bin/python bench/screenshots.py [--out docs/screenshots]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser, Page, expect, sync_playwright
from showcase import ROOT, showcase

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, PHONE, WIDE
from tests.support.localmode import LocalMode


def open_menu(page: Page) -> None:
    page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def shots(detail: str) -> list[tuple[str, str, dict[str, int], bool, Callable[[Page], None] | None]]:
    """(name, path, viewport, signed in, what to do before the picture)."""
    return [("overview", "/", WIDE, True, None), ("tasks", "/tasks", WIDE, True, None),
            ("task-detail", f"/tasks/{detail}", WIDE, True, None), ("task-new", "/tasks/new", WIDE, True, None),
            ("scheduled", "/tasks/scheduled", WIDE, True, None), ("settings", "/settings", WIDE, True, None),
            ("sign-in", "/", WIDE, False, None), ("phone-menu", "/tasks", PHONE, True, open_menu)]


def take(browser: Browser, mode: LocalMode, detail: str, out: Path) -> int:
    taken = 0
    for theme in ("light", "dark"):
        for name, path, viewport, signed_in, before in shots(detail):
            context = browser.new_context(viewport=viewport, base_url=mode.url, locale="en-US",  # type: ignore[arg-type]
                                          color_scheme=theme)
            if signed_in:
                context.add_cookies([{"name": "optio_session", "value": mode.token, "url": mode.url}])
            page = context.new_page()
            page.goto(path)
            expect(page.locator("main h1")).to_be_visible()
            expect(page.locator("main .skeleton")).to_have_count(0)
            page.wait_for_load_state("networkidle")
            if before:
                before(page)
            page.screenshot(path=str(out / f"{name}{'-dark' if theme == 'dark' else ''}.png"), animations="disabled")
            context.close()
            taken += 1
    return taken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    with showcase(Path(tempfile.mkdtemp(prefix="optio-screenshots-"))) as (mode, detail), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        taken = take(browser, mode, detail, args.out)
        browser.close()
    print(f"{taken} screenshots in {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out} "
          f"in {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
