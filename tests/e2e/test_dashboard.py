"""The dashboard in headless Chromium against local mode with the stand-in agent: what a person
does in it, end to end. Every page it visits is saved to test-artifacts/screenshots/
(`make screenshots` copies them to docs/screenshots/, which the README shows)."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import REPO_ROOT
from tests.support.gitrepo import make_bare_repo
from tests.support.localmode import LocalMode, start_local_mode
from tests.support.waiting import wait_for

pytestmark = pytest.mark.xdist_group("e2e-dashboard")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# Uncaught script errors of each open page: a page that throws fails its test when it is closed.
SCRIPT_ERRORS: dict[int, list[str]] = {}


@pytest.fixture(scope="module")
def mode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMode]:
    mode = start_local_mode(tmp_path_factory.mktemp("dashboard"), OPTIO_MAX_CONCURRENT="1")
    yield mode
    mode.stop()


@pytest.fixture(scope="module")
def repo(mode: LocalMode, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    bare = make_bare_repo(tmp_path_factory.mktemp("dashboard-repo"))
    return mode.api.ok("POST", "/api/repos", {"repoUrl": str(bare)}, status=201)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed: run `make browser`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def new_page(browser: Browser, mode: LocalMode, signed_in: bool = True, viewport: dict[str, int] = DESKTOP) -> Page:
    context = browser.new_context(viewport=viewport, base_url=mode.url)  # type: ignore[arg-type]
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


@pytest.fixture()
def page(browser: Browser, mode: LocalMode) -> Iterator[Page]:
    page = new_page(browser, mode)
    yield page
    close(page)


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_signing_in_with_the_admin_token_opens_the_dashboard(browser: Browser, mode: LocalMode,
                                                             repo: dict[str, Any]) -> None:
    page = new_page(browser, mode, signed_in=False)
    page.goto("/tasks")
    expect(page.get_by_role("heading", name="Sign in to Optio")).to_be_visible()
    screenshot(page, "sign-in")
    page.get_by_label("Token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#f-token-error")).to_have_text("is not a valid token")
    page.get_by_label("Token").fill(mode.token)
    page.get_by_role("button", name="Sign in").click()
    # The page asked for was /tasks: it is where the person lands.
    expect(page.get_by_role("heading", name="Tasks", exact=True)).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "optio_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    close(page)


def test_a_task_created_from_the_form_streams_its_logs_and_completes(page: Page, mode: LocalMode,
                                                                      repo: dict[str, Any]) -> None:
    page.goto("/tasks/new")
    page.get_by_label("Repository").select_option(repo["id"])
    page.get_by_label("Title").fill("Add a greeting")
    page.get_by_label("Description").fill("[fake:sleep=5] Add a greeting to the README")
    page.get_by_role("button", name="Create Task").click()
    page.wait_for_url("**/tasks/*-*")
    task_id = page.url.rsplit("/", 1)[1]
    # Lines arrive while the agent still works, not only once it is done.
    page.wait_for_function(
        "() => document.querySelectorAll('.logs li').length > 0"
        " && document.querySelector('.page-head .badge').textContent === 'running'", timeout=20_000)
    expect(page.locator(".page-head .badge")).to_have_text("completed", timeout=30_000)
    final = mode.api.logs(task_id)
    expect(page.locator(".logs li")).to_have_count(len(final))
    shown = page.locator(".logs li").evaluate_all("lines => lines.map(l => Number(l.dataset.seq))")
    assert shown == [line["seq"] for line in final]
    # Pushed to a local remote, no forge: done without the pull-request steps.
    expect(page.locator(".step.done")).to_have_text(["Queued", "Provisioning", "Running", "Done"])
    expect(page.get_by_role("button", name="Retry")).to_be_disabled()
    page.get_by_label("Show").select_option("error")
    expect(page.locator(".logs li:visible")).to_have_count(sum(1 for line in final if line["type"] == "error"))
    page.get_by_label("Show").select_option("")
    screenshot(page, "task-detail")


def test_the_actions_follow_the_state_and_resume_takes_a_prompt(page: Page, mode: LocalMode,
                                                               repo: dict[str, Any]) -> None:
    task = mode.api.ok("POST", "/api/tasks", {"repoId": repo["id"], "title": "Doomed", "prompt": "[fake:fail] x",
                                              "maxRetries": 0}, status=201)
    page.goto(f"/tasks/{task['id']}")
    expect(page.locator(".page-head .badge")).to_have_text("failed", timeout=30_000)
    for name in ("Retry", "Resume…", "Force restart", "Force redo"):
        expect(page.get_by_role("button", name=name)).to_be_enabled()
    for name in ("Cancel", "Launch review"):
        expect(page.get_by_role("button", name=name)).to_be_disabled()
    page.get_by_role("button", name="Resume…").click()
    page.get_by_label("What should the agent do next?").fill("[fake:noop] try another way")
    page.get_by_role("button", name="Resume", exact=True).click()
    expect(page.locator(".events")).to_contain_text("resumed with new context")
    mode.api.wait_state(task["id"], {"needs_attention", "completed", "failed"}, timeout_s=30)


def test_an_invalid_field_is_reported_next_to_it(page: Page, repo: dict[str, Any]) -> None:
    page.goto("/tasks/new")
    page.get_by_label("Title").fill("Too important")
    page.get_by_label("Description").fill("[fake:noop] nothing")
    page.get_by_label("Priority").fill("5000")
    page.get_by_role("button", name="Create Task").click()
    expect(page.locator("#f-priority-error")).to_have_text("must be at most 1000")
    expect(page.get_by_label("Priority")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-title-error")).to_be_empty()
    assert page.url.endswith("/tasks/new")
    screenshot(page, "task-new")


def test_dragging_a_queued_task_above_another_reorders_the_queue(page: Page, mode: LocalMode,
                                                                 repo: dict[str, Any]) -> None:
    api = mode.api

    def create(title: str, prompt: str) -> str:
        return str(api.ok("POST", "/api/tasks", {"repoId": repo["id"], "title": title, "prompt": prompt},
                          status=201)["id"])

    # The blocker holds the only slot (OPTIO_MAX_CONCURRENT=1), so the other two stay queued.
    blocker = create("Blocker", "[fake:sleep=30] hold the slot")
    api.wait_state(blocker, "running", timeout_s=20)
    first, second = create("First in line", "[fake:noop] one"), create("Second in line", "[fake:noop] two")
    try:
        page.goto("/tasks")
        queue = page.locator(".queue .queue-item")
        expect(queue).to_have_count(2)
        expect(queue.nth(0)).to_contain_text("First in line")
        screenshot(page, "tasks")
        queue.nth(1).drag_to(queue.nth(0), target_position={"x": 20, "y": 2})
        wait_for(lambda: api.task(second)["priority"] == 0 and api.task(first)["priority"] == 1, 10,
                 what="the new order to reach the API")
        expect(queue.nth(0)).to_contain_text("Second in line")
    finally:
        api.ok("POST", "/api/tasks/bulk/cancel-active")
    assert {api.task(t)["state"] for t in (blocker, first, second)} == {"cancelled"}


def test_a_template_is_created_and_run_in_one_click(page: Page, mode: LocalMode, repo: dict[str, Any]) -> None:
    name = f"Tidy docs {uuid.uuid4().hex[:6]}"
    page.goto("/templates")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Prompt").fill("[fake:noop] Tidy the docs")
    page.get_by_label("Repository").select_option(repo["id"])
    page.get_by_role("button", name="Create template").click()
    run = page.get_by_role("button", name=f"Run {name}")
    expect(run).to_be_visible()
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "templates")
    run.click()
    page.wait_for_url("**/tasks/*-*")
    task = mode.api.task(page.url.rsplit("/", 1)[1])
    assert task["title"] == name and task["metadata"]["templateId"]
    expect(page.get_by_role("heading", name=name)).to_be_visible()


def test_a_scheduled_task_is_listed_paused_and_run(page: Page, mode: LocalMode, repo: dict[str, Any]) -> None:
    blueprint = mode.api.ok("POST", "/api/tasks", {
        "type": "repo-blueprint", "name": "Nightly tidy", "title": "Tidy up", "prompt": "[fake:noop] tidy",
        "repoId": repo["id"]}, status=201)
    mode.api.ok("POST", f"/api/tasks/{blueprint['id']}/triggers",
                {"type": "schedule", "config": {"cronExpression": "0 9 * * *"}, "enabled": True}, status=201)
    page.goto("/tasks/scheduled")
    expect(page.get_by_role("link", name="Nightly tidy")).to_be_visible()
    expect(page.locator("main")).to_contain_text("cron 0 9 * * *")
    page.get_by_role("button", name="Run Nightly tidy now").click()
    page.wait_for_url("**/tasks/*-*")
    expect(page.get_by_role("heading", name="Tidy up")).to_be_visible()
    page.go_back()
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    expect(page.get_by_role("button", name="Run Nightly tidy now")).to_be_disabled()
    assert mode.api.task(blueprint["id"])["enabled"] is False


def test_repo_settings_are_saved_from_the_repos_page(page: Page, mode: LocalMode, repo: dict[str, Any]) -> None:
    page.goto("/repos")
    page.get_by_text(repo["repoUrl"]).click()
    page.get_by_label("Tasks at once").fill("3")
    page.get_by_label("Merge automatically when CI passes").check()
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#toast")).to_have_text("Settings saved.")
    saved = mode.api.ok("GET", f"/api/repos/{repo['id']}")
    assert saved["maxConcurrentTasks"] == 3 and saved["autoMerge"] is True


def test_an_api_key_shows_its_token_once_and_can_be_revoked(page: Page, mode: LocalMode) -> None:
    page.goto("/settings")
    page.get_by_label("Key name").fill("ci")
    page.get_by_role("button", name="Create API key").click()
    token = page.get_by_test_id("new-token").inner_text()
    assert token.startswith("optio_pat_")
    assert mode.api.get("/api/repos", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    page.reload()
    expect(page.get_by_test_id("new-token")).to_have_count(0)
    page.get_by_role("button", name="Revoke ci").click()
    expect(page.get_by_role("button", name="Revoke ci")).to_have_count(0)
    assert mode.api.get("/api/repos", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_secret_is_set_and_listed_by_name_only(page: Page) -> None:
    page.goto("/settings")
    page.get_by_label("Secret name").fill("EXAMPLE_TOKEN")
    page.get_by_label("Value").fill("s3cret-value")
    page.get_by_role("button", name="Save secret").click()
    expect(page.get_by_role("button", name="Delete EXAMPLE_TOKEN")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("s3cret-value")


PAGES = {"overview": "/", "tasks": "/tasks", "task-new": "/tasks/new", "templates": "/templates",
         "repos": "/repos", "settings": "/settings", "scheduled": "/tasks/scheduled", "issues": "/issues"}
# The others were captured by the tests above, showing what they did.
CAPTURED_HERE = {"overview", "repos", "settings", "scheduled", "issues"}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_every_page_reads_at_desktop_and_phone_widths(browser: Browser, mode: LocalMode, name: str) -> None:
    for viewport in (DESKTOP, PHONE):
        page = new_page(browser, mode, viewport=viewport)
        page.goto(PAGES[name])
        expect(page.locator("main h1")).to_be_visible()
        expect(page.locator("main .page")).not_to_contain_text("Could not load")
        expect(page.locator("main .page")).not_to_contain_text("Loading")
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} scrolls sideways at {viewport['width']} px"
        if viewport is DESKTOP and name in CAPTURED_HERE:
            screenshot(page, name)
        close(page)


def test_the_task_detail_reads_on_a_phone(browser: Browser, mode: LocalMode) -> None:
    task = mode.api.ok("GET", "/api/tasks?limit=1")["items"][0]
    page = new_page(browser, mode, viewport=PHONE)
    page.goto(f"/tasks/{task['id']}")
    expect(page.get_by_role("heading", name=task["title"])).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 0
    close(page)


def test_signing_out_ends_the_session(page: Page, mode: LocalMode) -> None:
    page.goto("/")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to Optio")).to_be_visible()
    assert not [c for c in page.context.cookies() if c["name"] == "optio_session"]
    assert page.request.get("/api/repos").status == 401
