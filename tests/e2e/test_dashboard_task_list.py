"""The task list in daily use, in headless Chromium against local mode with 200+ tasks: pages from
the server with "Load more", sort and search-as-you-type sent to the server, filters that keep the
list and the keyboard focus, bulk actions over the loaded pages, and an idle tab whose refreshes ask
only whether each page changed."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, Page, Response, expect

from tests.support.browser import AXE, WIDE, close, new_page, screenshot, serious_violations
from tests.support.gitrepo import make_bare_repo
from tests.support.localmode import LocalMode, start_local_mode
from tests.support.waiting import wait_for

pytestmark = pytest.mark.xdist_group("e2e-dashboard-task-list")

CHORES = 210
COSTS = {"Costly middle": "0.7", "Costly top": "3.25", "Costly low": "0.05"}


@pytest.fixture(scope="module")
def mode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMode]:
    mode = start_local_mode(tmp_path_factory.mktemp("task-list"), OPTIO_MAX_CONCURRENT="1")
    yield mode
    mode.stop()


@pytest.fixture(scope="module")
def seeded(mode: LocalMode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Three finished tasks that cost something, then a blocker that holds the only slot and 210
    chores waiting on it (none of them runs an agent)."""
    api = mode.api
    repo = api.ok("POST", "/api/repos", {"repoUrl": str(make_bare_repo(tmp_path_factory.mktemp("task-list-repo")))},
                  status=201)
    for title, cost in COSTS.items():
        task = api.ok("POST", "/api/tasks", {"repoId": repo["id"], "title": title, "prompt": f"[fake:cost={cost}] x"},
                      status=201)
        api.wait_state(task["id"], {"completed", "needs_attention"}, timeout_s=120)
    blocker = api.ok("POST", "/api/tasks", {"repoId": repo["id"], "title": "Blocker", "prompt": "[fake:sleep=600] hold"},
                     status=201)["id"]
    chores = [api.ok("POST", "/api/tasks", {"repoId": repo["id"], "title": f"Chore {n:03d}", "prompt": "[fake:noop] x",
                                            "priority": n % 7, "dependsOn": [blocker]}, status=201)["id"]
              for n in range(CHORES)]
    wait_for(lambda: len(api.ok("GET", "/api/tasks?type=repo-task&state=waiting_on_deps&limit=200")["items"]) == 200
             and api.task(chores[-1])["state"] == "waiting_on_deps", 120, what="the chores to wait on the blocker")
    yield {"repo": repo, "blocker": blocker, "chores": chores}
    api.ok("POST", "/api/tasks/bulk/cancel-active")


@pytest.fixture()
def page(browser: Browser, mode: LocalMode, seeded: dict[str, Any]) -> Iterator[Page]:
    page = new_page(browser, mode, viewport=WIDE)
    yield page
    close(page)


def list_requests(page: Page) -> list[Response]:
    """Every answer to a task-list request the page makes from now on."""
    seen: list[Response] = []
    page.on("response", lambda r: seen.append(r) if urlsplit(r.url).path == "/api/tasks" else None)
    return seen


def query_of(response: Response) -> dict[str, list[str]]:
    return parse_qs(urlsplit(response.url).query)


ROWS = "table.tasks tbody tr"


def test_pages_load_more_from_the_server(page: Page) -> None:
    answers = list_requests(page)
    page.goto("/tasks")
    rows = page.locator(ROWS)
    expect(rows).to_have_count(50)
    expect(page.get_by_role("heading", name="Tasks (50+)")).to_be_visible()
    expect(rows.first).to_contain_text(f"Chore {CHORES - 1:03d}")
    page.get_by_role("button", name="Load more").click()
    expect(rows).to_have_count(100)
    expect(rows.nth(50)).to_contain_text(f"Chore {CHORES - 51:03d}")
    assert any("cursor" in query_of(r) for r in answers)
    # Every page is one request of 50, never the whole list.
    assert {query_of(r)["limit"][0] for r in answers} == {"50"}
    if AXE.exists():  # `make axe`
        for theme in ("light", "dark"):
            page.emulate_media(color_scheme=theme)  # type: ignore[arg-type]
            assert not serious_violations(page), theme


def test_sort_by_cost_is_the_servers(page: Page) -> None:
    answers = list_requests(page)
    page.goto("/tasks")
    expect(page.locator(ROWS)).to_have_count(50)
    page.get_by_label("Sort by").select_option("cost")
    rows = page.locator(ROWS)
    expect(rows.nth(0)).to_contain_text("Costly top")
    expect(rows.nth(1)).to_contain_text("Costly middle")
    expect(rows.nth(2)).to_contain_text("Costly low")
    assert "sort=cost" in page.url
    assert any(query_of(r).get("sort") == ["cost"] and r.status == 200 for r in answers)
    screenshot(page, "tasks-by-cost")


def test_search_as_you_type_asks_the_server_and_keeps_the_focus(page: Page) -> None:
    page.goto("/tasks")
    rows = page.locator(ROWS)
    expect(rows).to_have_count(50)
    answers = list_requests(page)
    # Nothing on the page ever goes blank while it loads: no skeleton after the first draw.
    page.evaluate("""() => { window.blanked = false; new MutationObserver(() => {
        if (document.querySelector('main .skeleton') || !document.querySelector('main table.tasks, main .empty')) window.blanked = true;
      }).observe(document.querySelector('main'), {subtree: true, childList: true}); }""")
    search = page.get_by_label("Search")
    typed = "chore 04"
    search.press_sequentially(typed)
    expect(rows).to_have_count(10)
    expect(rows.first).to_contain_text("Chore 049")
    assert page.evaluate("document.activeElement.name") == "q"
    searched = [r for r in answers if "q" in query_of(r)]
    assert searched and query_of(searched[-1])["q"] == [typed]
    # Debounced: fewer requests than keystrokes.
    assert len(searched) < len(typed)
    state = page.get_by_label("State")
    state.focus()
    state.select_option("completed")
    expect(page.get_by_role("heading", name="Tasks (0)")).to_be_visible()
    assert page.evaluate("document.activeElement.name") == "state"
    state.select_option("waiting_on_deps")
    expect(rows).to_have_count(10)
    assert page.evaluate("document.activeElement.name") == "state"
    assert page.evaluate("window.blanked") is False


def test_bulk_cancel_over_loaded_pages_says_how_many(page: Page) -> None:
    page.goto("/tasks")
    rows = page.locator(ROWS)
    expect(rows).to_have_count(50)
    page.get_by_role("button", name="Load more").click()
    expect(rows).to_have_count(100)
    page.get_by_label("Select every task shown").check()
    page.get_by_role("button", name="Cancel selected (100)").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Cancel 100 tasks?")
    # Going back keeps them: the other tests list them.
    dialog.get_by_role("button", name="Go back").click()
    expect(dialog).to_have_count(0)


def test_an_idle_tab_asks_only_whether_its_pages_changed(page: Page, mode: LocalMode,
                                                        seeded: dict[str, Any]) -> None:
    page.goto("/tasks")
    rows = page.locator(ROWS)
    expect(rows).to_have_count(50)
    page.get_by_role("button", name="Load more").click()
    expect(rows).to_have_count(100)
    answers = list_requests(page)
    # Two refreshes of both pages and of the queue (empty here, but asked too).
    for _ in range(6):
        page.wait_for_event("response", lambda r: urlsplit(r.url).path == "/api/tasks", timeout=60_000)
    for answer in answers:
        assert answer.request.headers.get("if-none-match"), answer.url
        assert answer.status == 304, answer.url
    # A change shows without a reload: the page that holds it is downloaded again, alone.
    changed_from = len(answers)
    mode.api.ok("PATCH", f"/api/tasks/{seeded['chores'][-1]}", {"title": "Chore renamed"})
    expect(rows.first).to_contain_text("Chore renamed")
    fresh = [a for a in answers[changed_from:] if a.status == 200]
    assert fresh and all("cursor" not in query_of(a) for a in fresh)
