"""The dashboard's details, in headless Chromium against local mode: what reads wrong at a glance
(stray text, look-alike buttons, overflowing badges, a four-row menu on a phone), what must ask
before it acts, what a mistyped address or an expired session does, and how the files arrive."""
from __future__ import annotations

import gzip
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import AXE, PHONE, WIDE, close, new_page, screenshot, serious_violations
from tests.support.localmode import LocalMode, start_local_mode
from tests.support.waiting import wait_for

VIEWPORT = WIDE  # the page fixture's
pytestmark = pytest.mark.xdist_group("e2e-dashboard-polish")



@pytest.fixture(scope="module")
def mode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMode]:
    # One slot: a blocker holds it, so the tasks created after it stay queued.
    mode = start_local_mode(tmp_path_factory.mktemp("polish"), OPTIO_MAX_CONCURRENT="1")
    yield mode
    mode.stop()


def create(mode: LocalMode, repo: dict[str, Any], title: str, prompt: str = "[fake:noop] x") -> str:
    return str(mode.api.ok("POST", "/api/tasks", {"repoId": repo["id"], "title": title, "prompt": prompt},
                           status=201)["id"])


def test_the_task_list_prints_no_stray_null_with_fewer_than_two_queued(page: Page, mode: LocalMode,
                                                                       repo: dict[str, Any]) -> None:
    done = create(mode, repo, "Alone in the list")
    mode.api.wait_state(done, {"completed", "needs_attention"}, timeout_s=60)
    page.goto("/tasks")
    expect(page.get_by_role("link", name="Alone in the list")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("null")


def test_a_schedule_card_tells_its_own_pause_from_its_triggers(page: Page, mode: LocalMode,
                                                              repo: dict[str, Any]) -> None:
    name = f"Nightly {uuid.uuid4().hex[:6]}"
    config = mode.api.ok("POST", "/api/tasks", {"type": "repo-blueprint", "name": name, "prompt": "[fake:noop] x",
                                                "repoId": repo["id"]}, status=201)
    mode.api.ok("POST", f"/api/tasks/{config['id']}/triggers", {"type": "schedule", "config": {"cronExpression": "0 3 * * *"}},
                status=201)
    page.goto("/tasks/scheduled")
    card = page.locator(f'[data-config-id="{config["id"]}"]')
    expect(card.locator(".trigger")).to_have_count(1)
    labels = [text.strip() for text in card.get_by_role("button").all_inner_texts()]
    assert len(labels) == len(set(labels)), labels
    assert "Pause trigger" in labels


def test_the_overview_badges_stay_inside_their_cards_at_1440_px(page: Page, mode: LocalMode,
                                                                repo: dict[str, Any]) -> None:
    create(mode, repo, "Counted on the overview")
    page.goto("/")
    expect(page.locator(".counts li")).to_have_count(10)
    # Inside the card's padding, where its text belongs (a three-digit count needs that room too).
    spill = page.evaluate("""() => [...document.querySelectorAll('.counts a')].map((card) => {
        const inner = card.getBoundingClientRect().right - parseFloat(getComputedStyle(card).paddingRight);
        return [...card.children].some((c) => c.getBoundingClientRect().right > inner + 0.5) ? card.textContent : null;
      }).filter(Boolean)""")
    assert not spill, spill


def test_a_local_repositorys_task_says_it_has_no_pull_request(page: Page, mode: LocalMode,
                                                             repo: dict[str, Any]) -> None:
    task = create(mode, repo, "Local work")
    mode.api.wait_state(task, {"completed", "needs_attention"}, timeout_s=60)
    page.goto(f"/tasks/{task}")
    expect(page.locator(".facts")).to_contain_text("a local repository has no pull requests")
    expect(page.locator(".facts")).not_to_contain_text("none yet")


def test_a_tasks_times_read_relative_to_now_with_the_exact_time_on_hover(page: Page, mode: LocalMode,
                                                                      repo: dict[str, Any]) -> None:
    task = create(mode, repo, "Timed work")
    mode.api.wait_state(task, {"completed", "needs_attention"}, timeout_s=60)
    page.goto(f"/tasks/{task}")
    relative = re.compile(r"^(now|\d+ (seconds?|minutes?) ago)$")
    for name in ("Created", "Started"):  # a task that needs attention has not finished
        time = page.locator(f'.facts dt:text-is("{name}") + dd time')
        expect(time).to_have_text(relative)
        expect(time).to_have_attribute("title", re.compile(r"\d{4}"))  # the exact local time
        expect(time).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))
    events = page.locator("ol.events li time")
    expect(events.first).to_have_text(relative)
    assert events.count() >= 2 and all(re.search(r"\d{4}", title or "")
                                       for title in events.evaluate_all("ts => ts.map((t) => t.title)"))


def test_the_phone_navigation_is_one_row_with_a_menu(browser: Browser, mode: LocalMode) -> None:  # noqa: F811
    page = new_page(browser, mode, viewport=PHONE)
    page.goto("/tasks")
    expect(page.get_by_role("heading", name="Tasks", exact=True)).to_be_visible()
    bar = page.locator("header.bar")
    assert bar.bounding_box()["height"] < 64  # type: ignore[index]
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    menu = page.get_by_role("button", name="Menu")
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    screenshot(page, "phone-menu")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Templates").click()
    expect(page.get_by_role("heading", name="Templates", exact=True)).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    close(page)


def test_moving_one_queued_task_changes_that_tasks_priority_only(page: Page, mode: LocalMode,
                                                                 repo: dict[str, Any]) -> None:
    api = mode.api
    blocker = create(mode, repo, "Holder", "[fake:sleep=90] hold the slot")
    api.wait_state(blocker, "running", timeout_s=60)
    ids = [str(api.ok("POST", "/api/tasks", {"repoId": repo["id"], "title": f"Queued {n}", "prompt": "[fake:noop] x",
                                             "priority": 10 * n}, status=201)["id"]) for n in range(1, 5)]
    for task in ids:
        api.wait_state(task, "queued")
    try:
        page.goto("/tasks")
        ours = page.locator(".queue .queue-item").filter(has_text=re.compile(r"Queued \d"))
        expect(ours).to_have_text([re.compile(f"Queued {n}") for n in range(1, 5)])
        page.get_by_role("button", name="Move Queued 4 up").click()
        wait_for(lambda: api.task(ids[3])["priority"] < 30, 10, what="the move to reach the API")
        expect(ours).to_have_text([re.compile(f"Queued {n}") for n in (1, 2, 4, 3)])
        assert [api.task(t)["priority"] for t in ids[:3]] == [10, 20, 30]
    finally:
        api.ok("POST", "/api/tasks/bulk/cancel-active")


def test_cancel_active_asks_first_and_says_how_many(page: Page, mode: LocalMode, repo: dict[str, Any]) -> None:
    api = mode.api
    api.ok("POST", "/api/tasks/bulk/cancel-active")
    holder = create(mode, repo, "Long holder", "[fake:sleep=90] hold the slot")
    api.wait_state(holder, "running", timeout_s=60)
    waiting = [create(mode, repo, f"Waiting {n}", "[fake:noop] x") for n in (1, 2)]
    page.goto("/tasks")
    page.get_by_role("button", name="Cancel active").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Cancel active: 3 tasks?")
    screenshot(page, "confirm-cancel-active")
    # Going back keeps them all.
    dialog.get_by_role("button", name="Go back").click()
    expect(dialog).to_have_count(0)
    assert api.task(holder)["state"] == "running"
    page.get_by_role("button", name="Cancel active").click()
    dialog.get_by_role("button", name="Cancel 3 tasks").click()
    expect(page.locator("#toast")).to_have_text("Cancel: 3 of 3 tasks.")
    assert {api.task(t)["state"] for t in (holder, *waiting)} == {"cancelled"}


def test_a_secret_is_deleted_only_once_confirmed(page: Page, mode: LocalMode) -> None:
    mode.api.ok("PUT", "/api/secrets/DOOMED_TOKEN", {"value": "x"}, status=201)
    page.goto("/settings")
    page.get_by_role("button", name="Delete DOOMED_TOKEN").click()
    page.get_by_role("dialog").get_by_role("button", name="Go back").click()
    expect(page.get_by_role("button", name="Delete DOOMED_TOKEN")).to_be_visible()
    assert mode.api.get("/api/secrets").json()["items"]
    page.get_by_role("button", name="Delete DOOMED_TOKEN").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete 1 secret").click()
    expect(page.locator("#toast")).to_have_text("Secret DOOMED_TOKEN deleted.")
    expect(page.get_by_role("button", name="Delete DOOMED_TOKEN")).to_have_count(0)


def test_a_mistyped_address_shows_the_apps_own_not_found_page(page: Page, mode: LocalMode) -> None:
    response = page.goto("/tasks/abc/def")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.locator("main")).to_contain_text("/tasks/abc/def")
    page.get_by_role("main").get_by_role("link", name="See the tasks").click()
    expect(page.get_by_role("heading", name="Tasks", exact=True)).to_be_visible()
    # Under /api/ a missing route stays the API's JSON answer.
    api_miss = page.request.get("/api/no/such/route")
    assert api_miss.status == 404 and api_miss.json()["error"].startswith("no route")


def test_an_expired_session_signs_in_over_the_form_and_keeps_what_was_typed(page: Page, mode: LocalMode,
                                                                          repo: dict[str, Any]) -> None:
    page.goto("/tasks/new")
    page.get_by_label("Repository").select_option(repo["id"])
    page.get_by_label("Title").fill("Typed before the session ended")
    page.get_by_label("Description").fill("[fake:noop] a prompt worth keeping")
    page.context.clear_cookies()
    page.get_by_role("button", name="Create Task").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Sign in to Optio")).to_be_visible()
    screenshot(page, "session-expired")
    dialog.get_by_label("Token").fill(mode.token)
    dialog.get_by_role("button", name="Sign in").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_label("Title")).to_have_value("Typed before the session ended")
    expect(page.get_by_label("Description")).to_have_value("[fake:noop] a prompt worth keeping")
    page.get_by_role("button", name="Create Task").click()
    expect(page.get_by_role("heading", name="Typed before the session ended")).to_be_visible()


def test_the_overview_shows_what_it_can_when_one_request_fails(page: Page, mode: LocalMode,
                                                              repo: dict[str, Any]) -> None:
    create(mode, repo, "Seen despite a failure")
    # The standalone list fails (a server error on the wire) until the test lets it through: the
    # parts that need only the repo tasks show, the others say so, and Retry asks again.
    failing = [True]

    def fail_while_asked(route: Any) -> None:
        if failing[0]:
            route.fulfill(status=500, content_type="application/json", body='{"error": "the store is unavailable"}')
        else:
            route.continue_()

    page.route("**/api/tasks?type=standalone*", fail_while_asked)
    page.goto("/")
    expect(page.locator(".counts li")).to_have_count(10)
    expect(page.get_by_role("link", name="Seen despite a failure").first).to_be_visible()
    cost = page.locator("section", has=page.get_by_role("heading", name="Cost"))
    expect(cost.get_by_role("alert")).to_contain_text("the store is unavailable")
    screenshot(page, "overview-partial-failure")
    failing[0] = False
    cost.get_by_role("button", name="Retry").click()
    expect(page.get_by_test_id("cost-today")).to_have_text(re.compile(r"^\$\d+\.\d\d$"))


SCRIPT_AND_STYLE_BUDGET = 150 * 1024


@pytest.mark.parametrize("path", ["/", "/tasks", "/tasks/new", "/settings"])
def test_a_page_shows_within_150_kb_of_compressed_scripts_and_styles(browser: Browser, mode: LocalMode,  # noqa: F811
                                                                    repo: dict[str, Any], path: str) -> None:
    page = new_page(browser, mode, viewport=WIDE)
    fetched: list[Any] = []
    page.on("requestfinished", lambda request: fetched.append(request) if request.resource_type in {"script", "stylesheet"} else None)
    page.goto(path)
    expect(page.locator("main h1")).to_be_visible()
    # What came over the wire (bodies as sent, gzipped; headers too) before the page showed.
    sent = sum(r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"] for r in list(fetched))
    print(f"{path}: {len(fetched)} scripts and styles, {sent} bytes transferred")
    assert fetched and sent <= SCRIPT_AND_STYLE_BUDGET, sent
    assert all(r.response().headers.get("content-encoding") == "gzip"  # type: ignore[union-attr]
               for r in fetched if r.sizes()["responseBodySize"] >= 1024)
    # A second visit revalidates: each file answers 304 without a body.
    fetched.clear()
    page.reload()
    expect(page.locator("main h1")).to_be_visible()
    assert fetched and {r.response().status for r in fetched} <= {200, 304}  # type: ignore[union-attr]
    assert sum(r.sizes()["responseBodySize"] for r in fetched if r.response().status == 304) == 0  # type: ignore[union-attr]
    close(page)


def test_static_files_are_gzipped_and_answer_304_to_their_etag(mode: LocalMode) -> None:
    url = f"{mode.url}/static/app.js"
    plain = requests.get(url, headers={"Accept-Encoding": "identity"}, timeout=30)
    zipped = requests.get(url, headers={"Accept-Encoding": "gzip, deflate"}, timeout=30, stream=True)
    assert "Content-Encoding" not in plain.headers and plain.headers["ETag"] == zipped.headers["ETag"]
    assert zipped.headers["Content-Encoding"] == "gzip" and zipped.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(zipped.raw.read()) == plain.content
    again = requests.get(url, headers={"If-None-Match": plain.headers["ETag"]}, timeout=30)
    assert again.status_code == 304 and again.content == b""
    changed = requests.get(url, headers={"If-None-Match": '"another-version"'}, timeout=30)
    assert changed.status_code == 200 and changed.content == plain.content


def test_the_apis_json_is_gzipped_for_a_client_that_asks(mode: LocalMode, repo: dict[str, Any]) -> None:
    # A page of tasks is the overview's largest download (200 tasks: 260 KB raw); a task (a route
    # that returns a dict, with no Content-Type of its own) goes compressed too.
    for n in range(3):
        create(mode, repo, f"Listed for compression {n}")
    task = create(mode, repo, "Read compressed", "[fake:noop] " + "a long prompt " * 200)
    auth = {"Authorization": f"Bearer {mode.token}"}
    for path in ("/api/tasks?type=repo-task", f"/api/tasks/{task}"):
        plain = requests.get(mode.url + path, headers={**auth, "Accept-Encoding": "identity"}, timeout=30)
        zipped = requests.get(mode.url + path, headers={**auth, "Accept-Encoding": "gzip"}, timeout=30, stream=True)
        assert "Content-Encoding" not in plain.headers and len(plain.content) >= 1024, path
        assert zipped.headers["Content-Encoding"] == "gzip" and zipped.headers["Vary"] == "Accept-Encoding", path
        # The same answer (its tasks may move on between the two reads: their ids say it is the same).
        unzipped = json.loads(gzip.decompress(zipped.raw.read()))
        assert [t["id"] for t in unzipped.get("items", [unzipped])] == [t["id"] for t in plain.json().get("items", [plain.json()])]


A11Y_PAGES = ["/", "/tasks", "/tasks/new", "/tasks/scheduled", "/templates", "/repos", "/issues", "/settings",
              "/tasks/no/such/page"]
# Each theme at each width: one browser context per combination, on the module's one stack.
A11Y_LOOKS = [pytest.param(theme, viewport, id=f"{theme}-{viewport['width']}")
              for theme in ("light", "dark") for viewport in (WIDE, PHONE)]


# The dashboard's own navigation (the router follows popstate): the page, its scripts and axe stay
# loaded from one page to the next, as they do for a person clicking through.
FOLLOW = "(path) => { history.pushState(null, '', path); dispatchEvent(new PopStateEvent('popstate')); }"


@pytest.fixture(scope="module")
def a11y_paths(mode: LocalMode, repo: dict[str, Any]) -> list[tuple[str, bool]]:
    """Every page (and whether it shows a log, which is checked once its lines are in), with
    something in each colour the pages give a state: a completed task with a log, a failed one, a
    schedule's own page."""
    done = create(mode, repo, "Checked for contrast", "[fake:lines=40] [fake:noop] x")
    failed = create(mode, repo, "Fails for contrast", "[fake:fail] x")
    config = mode.api.ok("POST", "/api/tasks", {"type": "repo-blueprint", "name": f"Checked {uuid.uuid4().hex[:6]}",
                                                "prompt": "[fake:noop] x", "repoId": repo["id"]}, status=201)
    mode.api.wait_state(done, {"completed", "needs_attention"}, timeout_s=60)
    mode.api.wait_state(failed, {"failed", "needs_attention"}, timeout_s=60)
    return [*((path, False) for path in A11Y_PAGES), (f"/tasks/{done}", True), (f"/tasks/{failed}", False),
            (f"/tasks/scheduled/{config['id']}", False)]


@pytest.mark.parametrize(("theme", "viewport"), A11Y_LOOKS)
def test_every_page_has_no_serious_accessibility_violation(browser: Browser, mode: LocalMode,  # noqa: F811
                                                           a11y_paths: list[tuple[str, bool]], theme: str,
                                                           viewport: dict[str, int]) -> None:
    if not AXE.exists():
        pytest.skip("axe-core is not installed: run `make axe`")
    problems: dict[str, list[str]] = {}
    # Signed out first: the sign-in form is a page of its own.
    for signed_in, paths in ((False, [("/", False)]), (True, a11y_paths)):
        page = new_page(browser, mode, signed_in=signed_in, viewport=viewport)
        page.emulate_media(color_scheme=theme)  # type: ignore[arg-type]
        page.goto(paths[0][0])
        page.add_script_tag(path=str(AXE))
        for path, with_log in paths:
            if page.evaluate("location.pathname") != path:
                page.evaluate(FOLLOW, path)
            expect(page.locator("main h1")).to_be_visible()
            expect(page.locator("main .skeleton")).to_have_count(0)
            if with_log:
                expect(page.locator(".logs li").first).to_be_visible()
            if found := serious_violations(page):
                problems[path if signed_in else "sign-in"] = found
        close(page)
    assert not problems, problems


def test_the_theme_follows_the_system_until_toggled_and_is_remembered(browser: Browser, mode: LocalMode) -> None:  # noqa: F811
    page = new_page(browser, mode, viewport=WIDE)
    page.emulate_media(color_scheme="dark")
    page.goto("/settings")
    toggle = page.get_by_role("button", name="Dark theme")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    background = "() => getComputedStyle(document.documentElement).backgroundColor"
    dark_background = page.evaluate(background)
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    assert page.evaluate(background) != dark_background
    page.reload()
    expect(page.get_by_role("button", name="Dark theme")).to_have_attribute("aria-pressed", "false")
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    assert page.evaluate(background) != dark_background
    close(page)


def test_ids_tokens_and_urls_have_copy_buttons(page: Page, mode: LocalMode, repo: dict[str, Any]) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    clipboard = "() => navigator.clipboard.readText()"
    page.goto("/settings")
    page.get_by_label("Key name").fill("copied")
    page.get_by_role("button", name="Create API key").click()
    token = page.get_by_test_id("new-token").inner_text()
    page.get_by_role("button", name="Copy API token").click()
    expect(page.locator("#toast")).to_have_text("Copied API token.")
    assert page.evaluate(clipboard) == token
    task = create(mode, repo, "Copied id")
    page.goto(f"/tasks/{task}")
    page.get_by_role("button", name="Copy task id").click()
    assert page.evaluate(clipboard) == task


def test_the_task_list_searches_as_you_type_and_filters_in_place(page: Page, mode: LocalMode,
                                                                 repo: dict[str, Any]) -> None:
    tag = uuid.uuid4().hex[:6]
    for title in (f"Alpha {tag}", f"Beta {tag}"):
        create(mode, repo, title)
    page.goto("/tasks")
    for name in ("Agent", "PR", "CI", "Cost", "Duration"):
        expect(page.get_by_role("columnheader", name=name, exact=True)).to_be_visible()
    page.evaluate("document.querySelector('main .page').dataset.kept = 'yes'")
    search = page.get_by_label("Search")
    search.press_sequentially(f"alpha {tag}")
    rows = page.locator("table.tasks tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(f"Alpha {tag}")
    assert page.evaluate("document.activeElement.name") == "q"
    assert f"q=alpha+{tag}" in page.url
    # A filter changes the list in place: the page is the same, the control keeps the focus.
    state = page.get_by_label("State")
    state.focus()
    state.select_option("failed")
    expect(page.get_by_role("heading", name="Tasks (0)")).to_be_visible()
    assert page.evaluate("document.activeElement.name") == "state"
    assert page.evaluate("document.querySelector('main .page').dataset.kept") == "yes"
    assert "state=failed" in page.url
    screenshot(page, "tasks-filtered")


def test_the_task_list_sorts_by_priority_and_cancels_the_selected_rows(page: Page, mode: LocalMode,
                                                                       repo: dict[str, Any]) -> None:
    api = mode.api
    api.ok("POST", "/api/tasks/bulk/cancel-active")
    tag = uuid.uuid4().hex[:6]
    # Created first, started first: newest first and priority order disagree.
    high, low = (str(api.ok("POST", "/api/tasks", {"repoId": repo["id"], "title": f"{name} {tag}", "prompt": "[fake:sleep=90] x",
                                                   "priority": priority}, status=201)["id"])
                 for name, priority in (("Sooner", 5), ("Later", 900)))
    page.goto(f"/tasks?q={tag}")
    rows = page.locator("table.tasks tbody tr")
    expect(rows).to_have_text([re.compile(f"Later {tag}"), re.compile(f"Sooner {tag}")])
    page.get_by_label("Sort by").select_option("priority")
    expect(rows).to_have_text([re.compile(f"Sooner {tag}"), re.compile(f"Later {tag}")])
    assert "sort=priority" in page.url
    page.get_by_label("Sort by").select_option("created")
    expect(rows).to_have_text([re.compile(f"Later {tag}"), re.compile(f"Sooner {tag}")])
    page.get_by_label("Select every task shown").check()
    page.get_by_role("button", name="Cancel selected (2)").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel 2 tasks").click()
    expect(page.locator("#toast")).to_have_text("Cancel: 2 of 2 tasks.")
    assert {api.task(t)["state"] for t in (low, high)} == {"cancelled"}


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_overview_draws_its_trends_in_either_theme(browser: Browser, mode: LocalMode,  # noqa: F811
                                                      repo: dict[str, Any], theme: str) -> None:
    done = create(mode, repo, "Drawn in the trends")
    failed = create(mode, repo, "Fails in the trends", "[fake:fail] x")
    mode.api.wait_state(done, {"completed", "needs_attention"}, timeout_s=60)
    # A local task without a PR waits for attention: the failed one makes a finished task.
    mode.api.wait_state(failed, "failed", timeout_s=120)
    page = new_page(browser, mode, viewport=WIDE)
    page.emulate_media(color_scheme=theme)  # type: ignore[arg-type]
    page.goto("/")
    trends = page.locator("section", has=page.get_by_role("heading", name="Trends"))
    created = trends.get_by_role("img", name=re.compile("^Tasks created per day"))
    expect(created).to_be_visible()
    today = page.evaluate("new Date().toLocaleDateString(undefined, { month: 'numeric', day: 'numeric' })")
    label = created.get_attribute("aria-label") or ""
    assert re.search(rf"{re.escape(today)} [1-9]", label), label
    expect(trends.get_by_role("img", name=re.compile(r"^Success rate: \d+% of [1-9]\d* finished"))).to_be_visible()
    expect(trends.get_by_role("img", name=re.compile(r"^Cost per day"))).to_be_visible()
    # The labels take the theme's own muted ink (light and dark tokens differ), as the page does.
    ink = created.locator("text").first.evaluate("(label) => getComputedStyle(label).fill")
    assert ink == {"light": "rgb(86, 96, 114)", "dark": "rgb(166, 175, 194)"}[theme], ink
    background = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    assert background == {"light": "rgb(246, 247, 251)", "dark": "rgb(15, 19, 32)"}[theme]
    screenshot(page, f"overview-trends-{theme}")
    close(page)


def test_the_icons_come_from_the_vendored_sprite_with_its_licence(page: Page, mode: LocalMode) -> None:
    sprites: list[int] = []
    page.on("response", lambda response: sprites.append(response.status) if "/static/icons.svg" in response.url else None)
    page.goto("/settings")
    sign_out = page.get_by_role("button", name="Sign out")
    expect(sign_out.locator("svg.icon use")).to_have_attribute("href", "/static/icons.svg#log-out")
    box = sign_out.locator("svg.icon").bounding_box()
    assert box is not None and box["width"] > 8
    wait_for(lambda: sprites, 10, what="the sprite to load")
    assert sprites[0] in (200, 304)
    sprite = requests.get(f"{mode.url}/static/icons.svg", timeout=30)
    assert sprite.headers["Content-Type"] == "image/svg+xml" and "ISC License" in sprite.text
    for name in ("copy", "sun", "moon", "menu", "refresh-cw", "log-out"):
        assert f'<symbol id="{name}"' in sprite.text


def test_a_tasks_cancel_asks_first(page: Page, mode: LocalMode, repo: dict[str, Any]) -> None:
    api = mode.api
    api.ok("POST", "/api/tasks/bulk/cancel-active")
    task = create(mode, repo, "Asked before cancelling", "[fake:sleep=90] x")
    api.wait_state(task, "running", timeout_s=60)
    page.goto(f"/tasks/{task}")
    actions = page.get_by_role("group", name="Actions")
    actions.get_by_role("button", name="Cancel").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading")).to_have_text("Cancel this task?")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    assert api.task(task)["state"] == "running"
    actions.get_by_role("button", name="Cancel").click()
    dialog.get_by_role("button", name="Cancel 1 task").click()
    expect(page.locator("#toast")).to_have_text("Cancelled.")
    wait_for(lambda: api.task(task)["state"] == "cancelled", 30, what="the task to be cancelled")


def test_pausing_a_schedule_can_be_undone_from_its_toast(page: Page, mode: LocalMode, repo: dict[str, Any]) -> None:
    name = f"Undoable {uuid.uuid4().hex[:6]}"
    config = mode.api.ok("POST", "/api/tasks", {"type": "repo-blueprint", "name": name, "prompt": "[fake:noop] x",
                                                "repoId": repo["id"]}, status=201)
    page.goto("/tasks/scheduled")
    page.get_by_role("button", name=f"Pause {name}").click()
    toast = page.locator("#toast")
    expect(toast).to_contain_text(f"{name} paused")
    wait_for(lambda: mode.api.task(config["id"])["enabled"] is False, 10, what="the pause")
    toast.get_by_role("button", name="Undo").click()
    expect(toast).to_have_text(f"{name} resumed.")
    wait_for(lambda: mode.api.task(config["id"])["enabled"] is True, 10, what="the undo")
    expect(page.get_by_role("button", name=f"Pause {name}")).to_be_visible()
