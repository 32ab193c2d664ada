"""What the dashboard's browser tests share: Debian's Chromium and its flags, pages whose uncaught
script errors fail the test that closes them, screenshots of what a test did, and axe-core's
serious findings."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import REPO_ROOT
from tests.support.localmode import LocalMode

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
AXE = REPO_ROOT / ".deps" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 800}
WIDE = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
# Uncaught script errors of each open page: a page that throws fails its test when it is closed.
SCRIPT_ERRORS: dict[int, list[str]] = {}


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, for a module's tests (skipped where it is not installed)."""
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed: run `make browser`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def new_page(browser: Browser, mode: LocalMode, signed_in: bool = True, viewport: dict[str, int] = DESKTOP,
             timezone_id: str | None = None) -> Page:
    context = browser.new_context(viewport=viewport, base_url=mode.url, locale="en-US",  # type: ignore[arg-type]
                                  timezone_id=timezone_id)
    if signed_in:
        context.add_cookies([{"name": "optio_session", "value": mode.token, "url": mode.url}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors = SCRIPT_ERRORS[id(page)] = []
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    return page


def close(page: Page) -> None:
    page.context.close()
    errors = SCRIPT_ERRORS.pop(id(page))
    assert not errors, errors


def screenshot(page: Page, name: str, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # Without the passing toast: the page as it stands.
    page.evaluate("document.getElementById('toast')?.classList.remove('shown')")
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page, animations="disabled")


def serious_violations(page: Page) -> list[str]:
    """axe-core's critical and serious findings on the page (axe-core added to it if it has none)."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate("""async () => (await axe.run(document, { resultTypes: ["violations"] })).violations
        .filter((v) => v.impact === "critical" || v.impact === "serious")
        .map((v) => `${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`)""")
    return list(found)
