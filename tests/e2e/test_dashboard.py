"""The dashboard in headless Chromium against local mode with the stand-in agent: what a person
does in it, end to end. Every page it visits is saved to test-artifacts/screenshots/ (the README's
own screenshots come from `make screenshots`, on a seeded store: bench/screenshots.py)."""
from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.fakes.github_api import FakeGitHub
from tests.support.browser import DESKTOP, PHONE, close, new_page, screenshot
from tests.support.gitrepo import make_bare_repo
from tests.support.localmode import LocalMode, start_local_mode
from tests.support.waiting import wait_for

pytestmark = pytest.mark.xdist_group("e2e-dashboard")


@pytest.fixture(scope="module")
def github() -> Iterator[FakeGitHub]:
    server = FakeGitHub().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def remotes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dashboard-remotes")


@pytest.fixture(scope="module")
def mode(tmp_path_factory: pytest.TempPathFactory, github: FakeGitHub, remotes: Path) -> Iterator[LocalMode]:
    # One local mode for the module, with the GitHub stand-in behind the Issues page; git reaches
    # the stand-in's repositories as local bare ones.
    mode = start_local_mode(tmp_path_factory.mktemp("dashboard"), OPTIO_MAX_CONCURRENT="1",
                            OPTIO_GITHUB_API_URL=github.url, GIT_CONFIG_COUNT="1",
                            GIT_CONFIG_KEY_0=f"url.file://{remotes}/.insteadOf", GIT_CONFIG_VALUE_0="https://github.com/")
    mode.api.ok("PUT", "/api/secrets/GITHUB_TOKEN", {"value": github.token}, status=201)
    yield mode
    mode.stop()


@pytest.fixture(scope="module")
def github_repo(mode: LocalMode, github: FakeGitHub, remotes: Path) -> dict[str, Any]:
    """A repository on the GitHub stand-in (and its git remote), connected in Optio."""
    full_name = f"acme/web{uuid.uuid4().hex[:6]}"
    make_bare_repo(remotes, full_name)
    github.add_repo(full_name)
    repo = mode.api.ok("POST", "/api/repos", {"repoUrl": f"https://github.com/{full_name}"}, status=201)
    return {**repo, "fullName": full_name}


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
        " && document.querySelector('.page-head .badge').textContent === 'running'", timeout=45_000)
    expect(page.locator(".page-head .badge")).to_have_text("completed", timeout=30_000)
    final = mode.api.logs(task_id)
    expect(page.locator(".logs li")).to_have_count(len(final))
    shown = page.locator(".logs li").evaluate_all("lines => lines.map(l => Number(l.dataset.seq))")
    assert shown == [line["seq"] for line in final]
    # Pushed to a local remote, no forge: done without the pull-request steps.
    expect(page.locator(".step.done")).to_have_text(["Queued", "Provisioning", "Running", "Done"])
    # When it finished, and how long it took (the agent slept 5 s).
    expect(page.locator('.facts dt:text-is("Finished") + dd')).to_have_text(re.compile(r"^(now|\d+ seconds? ago), after \d+ s$"))
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

    def starts_first(one: str, other: str) -> bool:
        # The queue's order: priority, then the time queued (reorder changes only the priorities it must).
        a, b = api.task(one), api.task(other)
        return bool((a["priority"], a["queuedAt"]) < (b["priority"], b["queuedAt"]))

    # The blocker holds the only slot (OPTIO_MAX_CONCURRENT=1), so the other two stay queued.
    # Tasks of earlier tests may still hold the slot: the blocker waits its turn, then holds it
    # well past the test (it is cancelled at the end).
    blocker = create("Blocker", "[fake:sleep=90] hold the slot")
    api.wait_state(blocker, "running", timeout_s=60)
    first, second = create("First in line", "[fake:noop] one"), create("Second in line", "[fake:noop] two")
    try:
        page.goto("/tasks")
        queue = page.locator(".queue .queue-item")
        ours = queue.filter(has_text=" in line")
        # The queue is drawn after the page's first reads: on a loaded machine, more than 5 s.
        expect(ours).to_have_text([re.compile("First in line"), re.compile("Second in line")], timeout=30_000)
        screenshot(page, "tasks")
        ours.nth(1).drag_to(ours.nth(0), target_position={"x": 20, "y": 2})
        wait_for(lambda: starts_first(second, first), 10, what="the new order to reach the API")
        expect(ours).to_have_text([re.compile("Second in line"), re.compile("First in line")])
        # The keyboard way: the arrow buttons are in the tab order, Enter moves the task.
        page.get_by_role("button", name="Move First in line up").focus()
        page.keyboard.press("Enter")
        wait_for(lambda: starts_first(first, second), 10, what="the keyboard's order to reach the API")
        expect(ours).to_have_text([re.compile("First in line"), re.compile("Second in line")])
    finally:
        api.ok("POST", "/api/tasks/bulk/cancel-active")
    assert {api.task(t)["state"] for t in (blocker, first, second)} == {"cancelled"}


def test_a_template_is_created_and_run_in_one_click(page: Page, mode: LocalMode, repo: dict[str, Any]) -> None:
    name = f"Tidy docs {uuid.uuid4().hex[:6]}"
    page.goto("/templates")
    form = page.get_by_role("form", name="New template")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Prompt").fill("[fake:noop] Tidy the docs")
    form.get_by_label("Repository").select_option(repo["id"])
    form.get_by_role("button", name="Create template").click()
    run = page.get_by_role("button", name=f"Run {name}")
    expect(run).to_be_visible()
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "templates")
    run.click()
    page.wait_for_url("**/tasks/*-*")
    task = mode.api.task(page.url.rsplit("/", 1)[1])
    assert task["title"] == name and task["metadata"]["templateId"]
    expect(page.get_by_role("heading", name=name)).to_be_visible()


def test_a_template_without_a_repo_asks_for_one_and_for_its_params(page: Page, mode: LocalMode,
                                                                   repo: dict[str, Any]) -> None:
    name = f"Tidy an area {uuid.uuid4().hex[:6]}"
    mode.api.ok("POST", "/api/templates", {
        "name": name, "title": "Tidy {{AREA}}", "prompt": "[fake:noop] tidy {{AREA}}",
        "paramsSchema": {"type": "object", "properties": {"AREA": {"type": "string"}}, "required": ["AREA"]}}, status=201)
    page.goto("/templates")
    page.get_by_role("button", name=f"Run {name}").click()
    form = page.get_by_role("form", name=f"Run {name} with")
    form.get_by_label("Repository").select_option(repo["id"])
    form.get_by_role("button", name="Create the task").click()
    expect(form.locator('[data-error-for="params.AREA"]')).to_have_text("is required")
    form.get_by_label("AREA (required)").fill("docs")
    form.get_by_role("button", name="Create the task").click()
    page.wait_for_url("**/tasks/*-*")
    task = mode.api.task(page.url.rsplit("/", 1)[1])
    assert (task["title"], task["repoId"]) == ("Tidy docs", repo["id"])


def test_a_schedule_is_created_from_the_form_and_a_bad_cron_is_reported_next_to_it(page: Page, mode: LocalMode,
                                                                                   repo: dict[str, Any]) -> None:
    page.goto("/tasks/new")
    page.get_by_label("Schedule").check()
    assert page.url.endswith("/tasks/new?mode=schedule")  # the choice can be bookmarked
    expect(page.get_by_role("button", name="Create Schedule")).to_be_visible()
    page.get_by_label("Repository").select_option(repo["id"])
    page.get_by_label("Name").fill("Weekday tidy")
    page.get_by_label("Title").fill("Tidy the docs")
    page.get_by_label("Description").fill("[fake:noop] tidy")
    expect(page.get_by_label("Base branch (optional)")).to_have_attribute("placeholder", "main")
    page.get_by_label("Base branch (optional)").fill("main")
    page.get_by_label("Repeat").select_option(label="Custom…")
    page.get_by_label("Cron expression").fill("every weekday")
    page.get_by_role("button", name="Create Schedule").click()
    error = page.locator('[data-error-for="config.cronExpression"]')
    expect(error).not_to_be_empty()
    expect(page.get_by_label("Cron expression")).to_have_attribute("aria-invalid", "true")
    # The refused trigger took its blueprint with it: no half-made schedule is left behind.
    assert not [c for c in mode.api.ok("GET", "/api/tasks?type=repo-blueprint")["items"] if c["name"] == "Weekday tidy"]
    page.get_by_label("Repeat").select_option(label="Weekdays at 9 AM (UTC)")
    expect(page.get_by_label("Cron expression")).to_have_value("0 9 * * 1-5")
    page.get_by_label("Params (optional)").fill("AREA=docs")
    page.get_by_role("button", name="Create Schedule").click()
    expect(page.locator('[data-error-for="config.paramMapping"]')).to_have_text("is not valid JSON")
    page.get_by_label("Params (optional)").fill('{"AREA": "docs"}')
    screenshot(page, "task-new-schedule", full_page=True)
    page.get_by_role("button", name="Create Schedule").click()
    page.wait_for_url("**/tasks/scheduled/*-*")
    config_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("heading", name="Weekday tidy")).to_be_visible()
    expect(page.locator(".triggers")).to_contain_text('cron 0 9 * * 1-5 · weekdays at 9 AM (UTC) · params AREA="docs"')
    config = mode.api.task(config_id)
    assert (config["type"], config["title"], config["repoId"], config["repoBranch"]) == (
        "repo-blueprint", "Tidy the docs", repo["id"], "main")
    [trigger] = mode.api.ok("GET", f"/api/tasks/{config_id}/triggers")["items"]
    assert trigger["config"] == {"cronExpression": "0 9 * * 1-5", "paramMapping": {"AREA": "docs"}}
    assert trigger["enabled"] is True
    # Its page adds the other kinds: a signed webhook and a ticket trigger with labels.
    hook = f"tidy-{uuid.uuid4().hex[:6]}"
    page.get_by_text("Add a trigger").click()
    adding = page.get_by_role("form", name="Add a trigger")
    adding.get_by_label("Trigger type").select_option("webhook")
    adding.get_by_label("Webhook path").fill(hook)
    adding.get_by_label("Signing secret (optional)").fill("whsec-dashboard")
    adding.get_by_role("button", name="Add trigger").click()
    expect(page.locator(".triggers")).to_contain_text(f"POST /api/hooks/{hook} (signed)")
    adding.get_by_label("Trigger type").select_option("ticket")
    adding.get_by_label("Ticket source").select_option("github")
    adding.get_by_label("Labels (optional)").fill("cve, security")
    adding.get_by_role("button", name="Add trigger").click()
    expect(page.locator(".triggers")).to_contain_text("new github tickets labelled cve, security")
    kinds = {t["type"]: t["config"] for t in mode.api.ok("GET", f"/api/tasks/{config_id}/triggers")["items"]}
    assert kinds["webhook"] == {"path": hook, "hasSecret": True}
    assert kinds["ticket"] == {"source": "github", "labels": ["cve", "security"]}


def test_a_schedule_and_its_trigger_are_paused_and_resumed_and_run_by_hand(page: Page, mode: LocalMode,
                                                                          repo: dict[str, Any]) -> None:
    api = mode.api
    blueprint = api.ok("POST", "/api/tasks", {
        "type": "repo-blueprint", "name": "Nightly tidy", "title": "Tidy up", "prompt": "[fake:noop] tidy",
        "repoId": repo["id"]}, status=201)
    api.ok("POST", f"/api/tasks/{blueprint['id']}/triggers",
                     {"type": "schedule", "config": {"cronExpression": "0 0 * * *"}, "enabled": True}, status=201)
    page.goto("/tasks/scheduled")
    card = page.locator(f'[data-config-id="{blueprint["id"]}"]')
    expect(card.get_by_role("link", name="Nightly tidy")).to_be_visible()
    expect(card).to_contain_text("cron 0 0 * * * · daily at midnight (UTC)")
    expect(card).to_contain_text(f"repo task · {repo['repoUrl']}")
    # The trigger alone: paused, then resumed, in one click each.
    card.get_by_role("button", name="Pause trigger: Nightly tidy's schedule").click()
    expect(card.get_by_role("button", name="Resume trigger: Nightly tidy's schedule")).to_be_visible()
    assert _trigger(api, blueprint["id"])["enabled"] is False
    card.get_by_role("button", name="Resume trigger: Nightly tidy's schedule").click()
    expect(card.get_by_role("button", name="Pause trigger: Nightly tidy's schedule")).to_be_visible()
    assert _trigger(api, blueprint["id"])["enabled"] is True
    # The whole config: paused (no trigger fires, no run by hand), then resumed.
    card.get_by_role("button", name="Pause Nightly tidy", exact=True).click()
    expect(card.get_by_role("button", name="Resume Nightly tidy", exact=True)).to_be_visible()
    expect(card.get_by_role("button", name="Run now: Nightly tidy")).to_be_disabled()
    assert api.task(blueprint["id"])["enabled"] is False
    card.get_by_role("button", name="Resume Nightly tidy", exact=True).click()
    expect(card.get_by_role("button", name="Run now: Nightly tidy")).to_be_enabled()
    assert api.task(blueprint["id"])["enabled"] is True
    screenshot(page, "scheduled")
    card.get_by_role("button", name="Run now: Nightly tidy").click()
    page.wait_for_url("**/tasks/*-*")
    expect(page.get_by_role("heading", name="Tidy up")).to_be_visible()
    expect(page.get_by_role("link", name="its blueprint")).to_have_attribute("href", f"/tasks/scheduled/{blueprint['id']}")
    run_id = page.url.rsplit("/", 1)[1]
    # Blueprints are in the task list too, under their type (a bookmarkable filter).
    page.goto("/tasks")
    page.get_by_label("Type").select_option("repo-blueprint")
    page.wait_for_url("**/tasks?type=repo-blueprint")
    expect(page.get_by_role("link", name="Nightly tidy")).to_have_attribute("href", f"/tasks/scheduled/{blueprint['id']}")
    # The run is listed on the blueprint's page, a link to the repo task it is.
    page.goto(f"/tasks/scheduled/{blueprint['id']}")
    expect(page.locator(f'tr[data-run-id="{run_id}"]').get_by_role("link", name="Tidy up")).to_be_visible()


def _trigger(api: Any, config_id: str) -> dict[str, Any]:
    [trigger] = api.ok("GET", f"/api/tasks/{config_id}/triggers")["items"]
    return trigger  # type: ignore[no-any-return]


PARAMS_SCHEMA = {
    "type": "object",
    "properties": {
        "REPO_NAME": {"type": "string", "description": "The repository to report on."},
        "FOCUS_AREAS": {"type": "string", "default": "CVEs, outdated packages"},
        "COUNT": {"type": "integer", "minimum": 1, "default": 5},
        "SEVERITY": {"type": "string", "enum": ["low", "high"], "default": "low"},
        "DRY_RUN": {"type": "boolean"},
    },
    "required": ["REPO_NAME"],
}


def test_a_standalone_task_is_created_and_run_with_params_from_its_generated_form(page: Page, mode: LocalMode) -> None:
    page.goto("/tasks/new")
    page.get_by_label("Repository").select_option(label="No repository: a standalone task")
    page.get_by_label("Name").fill("Security report")
    page.get_by_label("Prompt template").fill("[fake:sleep=30] Report on {{REPO_NAME}}: {{FOCUS_AREAS}}")
    page.get_by_label("Parameter schema (optional)").fill("{not json")
    page.get_by_role("button", name="Create Task").click()
    expect(page.locator('[data-error-for="paramsSchema"]')).to_have_text("is not valid JSON")
    page.get_by_label("Parameter schema (optional)").fill(json.dumps(PARAMS_SCHEMA))
    page.get_by_text("Environment (optional)").click()
    page.get_by_label("Secrets").fill("GITHUB_TOKEN, not-a-name")
    page.get_by_role("button", name="Create Task").click()
    expect(page.locator('[data-error-for="environment.secrets"]')).to_contain_text("does not match")
    page.get_by_label("Secrets").fill("GITHUB_TOKEN")  # set by the module's fixture
    page.get_by_role("button", name="Create Task").click()
    page.wait_for_url("**/tasks/scheduled/*-*")
    config_id = page.url.rsplit("/", 1)[1]
    config = mode.api.task(config_id)
    assert config["paramsSchema"] == PARAMS_SCHEMA and config["environment"] == {"secrets": ["GITHUB_TOKEN"]}

    # The form is built from the schema: types, the required mark, defaults, enums (the page's
    # trigger form asks for a schedule's params by the same schema: the run form is the one here).
    run_form = page.get_by_role("form", name="Run it now")
    expect(run_form.get_by_label("REPO_NAME (required)")).to_have_value("")
    expect(run_form.get_by_label("FOCUS_AREAS")).to_have_value("CVEs, outdated packages")
    expect(run_form.get_by_label("COUNT")).to_have_attribute("type", "number")
    expect(run_form.get_by_label("COUNT")).to_have_value("5")
    expect(run_form.get_by_label("SEVERITY").locator("option")).to_have_text(["low", "high"])
    expect(run_form.get_by_label("DRY_RUN")).not_to_be_checked()
    run_form.get_by_role("button", name="Run now").click()
    expect(page.locator('[data-error-for="params.REPO_NAME"]')).to_have_text("is required")
    expect(run_form.get_by_label("REPO_NAME (required)")).to_be_focused()
    run_form.get_by_label("REPO_NAME (required)").fill("optio")
    run_form.get_by_label("COUNT").fill("3")
    run_form.get_by_label("SEVERITY").select_option("high")
    run_form.get_by_label("DRY_RUN").check()
    run_form.get_by_role("button", name="Run now").click()
    page.wait_for_url("**?run=*")
    run_id = page.url.rsplit("=", 1)[1]
    expected = {"REPO_NAME": "optio", "FOCUS_AREAS": "CVEs, outdated packages", "COUNT": 3, "SEVERITY": "high",
                "DRY_RUN": True}
    [run] = mode.api.ok("GET", f"/api/tasks/{config_id}/runs")["items"]
    assert run["id"] == run_id and run["params"] == expected
    row = page.locator(f'tr[data-run-id="{run_id}"]')
    expect(row).to_contain_text("REPO_NAME=optio")
    expect(row).to_contain_text("COUNT=3")
    expect(page.locator(".run-logs")).to_contain_text(f"Run {run_id[:8]}")
    # The agent runs (no repository) and its lines stream into the run's log view.
    expect(page.locator(".run-logs .logs li").first).to_be_visible(timeout=30_000)
    expect(row.locator(".badge")).to_have_text("running")
    screenshot(page, "scheduled-detail", full_page=True)
    # Cancel it from its row: it fails as cancelled, and Retry queues it again.
    row.get_by_role("button", name=f"Cancel run {run_id[:8]}").click()
    expect(row.locator(".badge")).to_have_text("failed", timeout=20_000)
    assert "cancelled" in mode.api.ok("GET", f"/api/workflow-runs/{run_id}")["errorMessage"].lower()
    row.get_by_role("button", name=f"Retry run {run_id[:8]}").click()
    expect(row.locator(".badge")).not_to_have_text("failed")
    # Not left running behind the other tests (it may have stopped by itself meanwhile).
    assert mode.api.post(f"/api/workflow-runs/{run_id}/cancel").status_code in (200, 409)


def test_an_issue_is_assigned_to_optio_from_the_issues_page(page: Page, mode: LocalMode, github: FakeGitHub,
                                                            github_repo: dict[str, Any], repo: dict[str, Any]) -> None:
    full_name = github_repo["fullName"]
    bug = github.add_issue(full_name, "Fix the login redirect", "[fake:noop] Return to /checkout after login.",
                           labels=("bug", "good first issue"))
    github.add_issue(full_name, "Dark mode", "[fake:noop] Add a dark theme.", labels=("enhancement",))
    other = f"acme/other{uuid.uuid4().hex[:6]}"
    github.add_repo(other)
    mode.api.ok("POST", "/api/repos", {"repoUrl": f"https://github.com/{other}"}, status=201)
    github.add_issue(other, "Elsewhere", "[fake:noop] not here")
    page.goto("/issues")
    expect(page.locator("main")).to_contain_text("Elsewhere")
    page.get_by_label("Repo").select_option(github_repo["id"])
    page.wait_for_url(f"**/issues?repoId={github_repo['id']}")
    card = page.locator(f'[data-issue="{full_name}#{bug["number"]}"]')
    expect(card.locator(".labels li")).to_have_text(["bug", "good first issue"])
    expect(page.locator("main")).not_to_contain_text("Elsewhere")
    expect(page.locator(".cards > li")).to_have_count(2)
    card.get_by_role("button", name=f"Assign {full_name}#{bug['number']} to Optio").click()
    page.wait_for_url("**/tasks/*-*")
    expect(page.get_by_role("heading", name="Fix the login redirect")).to_be_visible()
    expect(page.locator(".facts")).to_contain_text(f"Ticket#{bug['number']}")
    task_id = page.url.rsplit("/", 1)[1]
    assert "optio" in [label["name"] for label in github.issue(full_name, bug["number"])["labels"]]
    assert github.comments(full_name, bug["number"])
    # Back on the (bookmarked) filtered list: the issue shows its task instead of the button.
    page.go_back()
    expect(card.get_by_role("link", name="Open its task")).to_have_attribute("href", f"/tasks/{task_id}")
    expect(card.get_by_role("button")).to_have_count(0)
    expect(card.locator(".linked .badge")).to_be_visible()
    page.get_by_label("Repo").select_option("")
    expect(page.locator(".cards > li")).to_have_count(3)
    screenshot(page, "issues")


def test_a_ticket_provider_is_added_paused_and_removed(page: Page, mode: LocalMode, github_repo: dict[str, Any]) -> None:
    page.goto("/settings#providers-h")
    form = page.get_by_role("form", name="Add a ticket provider")
    form.get_by_label("Provider").select_option("github")
    form.get_by_label("Tasks go to").select_option(github_repo["id"])
    form.get_by_label("Labels (optional)").fill("optio-sync, triaged")
    form.get_by_role("button", name="Add provider").click()
    label = f"the github provider of {github_repo['repoUrl']}"
    expect(page.get_by_role("button", name=f"Pause {label}")).to_be_visible()
    [provider] = mode.api.ok("GET", "/api/ticket-providers")["items"]
    assert provider["config"] == {"labels": ["optio-sync", "triaged"]} and provider["repoId"] == github_repo["id"]
    page.get_by_role("button", name=f"Pause {label}").click()
    expect(page.get_by_role("button", name=f"Resume {label}")).to_be_visible()
    assert mode.api.ok("GET", f"/api/ticket-providers/{provider['id']}")["enabled"] is False
    form.get_by_label("Provider").select_option("linear")
    form.get_by_label("Tasks go to").select_option(github_repo["id"])
    form.get_by_role("button", name="Add provider").click()
    expect(form.locator('[data-error-for="config.teamKey"]')).not_to_be_empty()
    # Jira (and Notion) have fields of their own; a bad one is named next to it.
    form.get_by_label("Provider").select_option("jira")
    form.get_by_label("Site", exact=True).fill("not a site")
    form.get_by_label("Project key", exact=True).fill("ENG")
    form.get_by_label("Account email", exact=True).fill("bot@acme.com")
    form.get_by_role("button", name="Add provider").click()
    expect(form.locator('[data-error-for="config.site"]')).not_to_be_empty()
    # A site that refuses at once: the scheduled sync fails fast and is recorded, nothing else.
    form.get_by_label("Site", exact=True).fill("http://127.0.0.1:9")
    form.get_by_label("Tasks go to").select_option(github_repo["id"])
    form.get_by_role("button", name="Add provider").click()
    jira = f"the jira provider of {github_repo['repoUrl']}"
    expect(page.get_by_role("button", name=f"Pause {jira}")).to_be_visible()
    expect(page.locator("li.card", has=page.get_by_role("button", name=f"Pause {jira}"))).to_contain_text(
        "Jira Cloud → ")
    page.get_by_role("button", name=f"Delete {jira}").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete 1 source").click()
    expect(page.get_by_role("button", name=f"Delete {jira}")).to_have_count(0)
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "settings", full_page=True)
    page.get_by_role("button", name=f"Delete {label}").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete 1 source").click()
    expect(page.get_by_role("button", name=f"Delete {label}")).to_have_count(0)


def test_repo_settings_are_saved_from_the_repos_page(page: Page, mode: LocalMode, repo: dict[str, Any]) -> None:
    page.goto("/repos")
    card = page.locator("li.card", has=page.get_by_text(repo["repoUrl"], exact=True))
    card.get_by_text(repo["repoUrl"], exact=True).click()
    card.get_by_label("Tasks at once").fill("3")
    card.get_by_label("Warm runners kept waiting").fill("1")
    card.get_by_label("Merge automatically when CI passes").check()
    card.get_by_label("Setup commands (one per line)").fill("true\n\necho ready")
    card.get_by_role("button", name="Save settings").click()
    expect(page.locator("#toast")).to_have_text("Settings saved.")
    saved = mode.api.ok("GET", f"/api/repos/{repo['id']}")
    assert saved["maxConcurrentTasks"] == 3 and saved["autoMerge"] is True
    assert saved["setupCommands"] == ["true", "echo ready"]
    assert saved["warmPoolSize"] == 1
    mode.api.ok("PATCH", f"/api/repos/{repo['id']}", {"setupCommands": [], "warmPoolSize": 0})


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
    page.get_by_role("dialog").get_by_role("button", name="Revoke 1 key").click()
    expect(page.get_by_role("button", name="Revoke ci")).to_have_count(0)
    assert mode.api.get("/api/repos", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_secret_is_set_and_listed_by_name_only(page: Page) -> None:
    page.goto("/settings")
    page.get_by_label("Secret name").fill("EXAMPLE_TOKEN")
    page.get_by_label("Value", exact=True).fill("s3cret-value")
    page.get_by_role("button", name="Save secret").click()
    expect(page.get_by_role("button", name="Delete EXAMPLE_TOKEN")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("s3cret-value")


def test_the_overview_counts_tasks_by_state_and_shows_activity_and_cost(page: Page, mode: LocalMode,
                                                                      repo: dict[str, Any]) -> None:
    task = mode.api.ok("POST", "/api/tasks", {"repoId": repo["id"], "title": "Counted", "prompt": "[fake:noop] x"},
                       status=201)
    done = mode.api.wait_state(task["id"], {"completed", "needs_attention"}, timeout_s=60)
    page.goto("/")
    for name in ("Tasks by state", "Cost", "Running now", "Recent activity"):
        expect(page.get_by_role("heading", name=name)).to_be_visible()
    # Each count links to the task list filtered by its state.
    state_link = page.locator(f'.counts a[href="/tasks?state={done["state"]}"]')
    expect(state_link.locator(".count")).not_to_have_text("0")
    expect(page.get_by_test_id("cost-today")).to_have_text(re.compile(r"^\$\d+\.\d\d$"))
    # Activity: one row per task, by its title, with its latest changes.
    row = page.locator(".activity > li", has=page.get_by_role("link", name="Counted"))
    expect(row.locator(".transitions")).to_contain_text(done["state"].replace("_", " "))


PAGES = {"overview": "/", "tasks": "/tasks", "task-new": "/tasks/new", "templates": "/templates",
         "repos": "/repos", "settings": "/settings", "scheduled": "/tasks/scheduled", "issues": "/issues",
         "task-new-schedule": "/tasks/new?mode=schedule", "task-new-standalone": "/tasks/new?standalone=1"}
# The others were captured by the tests above, showing what they did.
CAPTURED_HERE = {"overview", "repos"}


def test_every_page_reads_at_desktop_and_phone_widths(browser: Browser, mode: LocalMode) -> None:
    page = new_page(browser, mode)
    for name, path in sorted(PAGES.items()):
        for viewport in (DESKTOP, PHONE):
            page.set_viewport_size(viewport)  # type: ignore[arg-type]
            page.goto(path)
            expect(page.locator("main h1")).to_be_visible()
            expect(page.locator("main .page")).not_to_contain_text("Could not load")
            expect(page.locator("main .page")).not_to_contain_text("Loading")
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} scrolls sideways at {viewport['width']} px"
            if viewport is DESKTOP and name in CAPTURED_HERE:
                screenshot(page, name)
    close(page)


def test_a_scheduled_task_page_reads_on_a_phone(browser: Browser, mode: LocalMode) -> None:
    config = mode.api.ok("POST", "/api/tasks", {"type": "standalone", "name": "Phone report",
                                                "promptTemplate": "[fake:noop] {{TEAM}}"}, status=201)
    mode.api.ok("POST", f"/api/tasks/{config['id']}/runs", {"params": {"TEAM": "mobile"}}, status=202)
    page = new_page(browser, mode, viewport=PHONE)
    page.goto(f"/tasks/scheduled/{config['id']}")
    expect(page.get_by_role("heading", name="Phone report", exact=True)).to_be_visible()
    expect(page.locator("tr[data-run-id]")).to_contain_text("TEAM=mobile")
    assert page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 0
    close(page)


def test_the_task_detail_reads_on_a_phone_with_times_in_the_viewers_zone(browser: Browser, mode: LocalMode,
                                                                         repo: dict[str, Any]) -> None:
    task = mode.api.ok("POST", "/api/tasks", {"repoId": repo["id"], "title": "Read on a phone", "prompt": "[fake:noop] x"},
                       status=201)
    page = new_page(browser, mode, viewport=PHONE, timezone_id="Asia/Kolkata")
    page.goto(f"/tasks/{task['id']}")
    expect(page.get_by_role("heading", name=task["title"])).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 0
    # Relative to now, and on hover the API's UTC time in the viewer's own zone (UTC+5:30 here).
    local = datetime.fromisoformat(task["createdAt"].replace("Z", "+00:00")).astimezone(ZoneInfo("Asia/Kolkata"))
    shown = f"{local.month}/{local.day}/{local.year}, {local.hour % 12 or 12}:{local:%M:%S} {local:%p}"
    created = page.locator('.facts dt:text-is("Created") + dd time')
    expect(created).to_have_text(re.compile(r"^(now|\d+ seconds? ago)$"))
    expect(created).to_have_attribute("title", shown)
    close(page)


def test_signing_out_ends_the_session(page: Page, mode: LocalMode) -> None:
    page.goto("/")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to Optio")).to_be_visible()
    assert not [c for c in page.context.cookies() if c["name"] == "optio_session"]
    assert page.request.get("/api/repos").status == 401
