"""The dashboard's forms that cover the API, in headless Chromium against local mode: a webhook's
param mapping and its tester (the server's dry run), a schedule's params from the config's params
schema, and every ticket source the API accepts; each made through the form, checked through the
API."""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import AXE, PHONE, WIDE, close, new_page, screenshot, serious_violations
from tests.support.localmode import LocalMode, start_local_mode

VIEWPORT = WIDE  # the page fixture's
pytestmark = pytest.mark.xdist_group("e2e-dashboard-forms")

# What Sentry posts for a new issue (its `issue` resource webhook), trimmed to what is mapped.
SENTRY_ALERT = {"action": "created", "data": {"issue": {"title": "TypeError: cart is undefined", "culprit": "cart.js",
                                                        "project": {"slug": "checkout"}}}}


@pytest.fixture(scope="module")
def mode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMode]:
    mode = start_local_mode(tmp_path_factory.mktemp("forms"), OPTIO_MAX_CONCURRENT="1")
    yield mode
    mode.stop()


def test_a_webhook_made_in_the_form_turns_a_sentry_alert_into_a_task_titled_with_the_error(
        page: Page, mode: LocalMode, repo: dict[str, Any]) -> None:
    config = mode.api.ok("POST", "/api/tasks", {
        "type": "repo-blueprint", "name": f"Sentry fix {uuid.uuid4().hex[:6]}", "title": "Fix {{error}}",
        "prompt": "[fake:noop] Sentry reports {{error}} in {{project}}.", "repoId": repo["id"],
        "paramsSchema": {"type": "object", "properties": {"error": {"type": "string"}, "project": {"type": "string"}}}},
        status=201)
    path = f"sentry-{uuid.uuid4().hex[:8]}"
    page.goto(f"/tasks/scheduled/{config['id']}")
    page.locator("summary", has_text="Add a trigger").click()
    form = page.get_by_role("form", name="Add a trigger")
    form.get_by_label("Trigger type").select_option("webhook")
    form.get_by_label("Webhook path").fill(path)
    # The blueprint's declared params are offered as names.
    assert form.locator("datalist option").evaluate_all("options => options.map(o => o.value)") == ["error", "project"]
    form.get_by_label("Param name, row 1").fill("error")
    form.get_by_label("JSONPath, row 1").fill("$.data.issue.title")
    form.get_by_role("button", name="Add a row").click()
    form.get_by_label("Param name, row 2").fill("project")
    form.get_by_label("JSONPath, row 2").fill("$.data.issue.project[[")
    form.locator("summary", has_text="Test with a sample payload").click()
    form.get_by_label("Sample payload (JSON)").fill(json.dumps(SENTRY_ALERT))
    test = form.get_by_role("button", name="Test the mapping")

    # The server's own checks, next to the field they name.
    test.click()
    expect(form.locator("#add-map-path-2-error")).to_have_text("is not a valid JSONPath expression")
    form.get_by_label("JSONPath, row 2").fill("$.data.issue.project.slug")
    form.get_by_label("Sample payload (JSON)").fill("{not json")
    test.click()
    expect(form.locator("#add-payload-error")).to_have_text("is not valid JSON")
    expect(form.locator("#add-map-path-2-error")).to_have_text("")

    form.get_by_label("Sample payload (JSON)").fill(json.dumps(SENTRY_ALERT))
    test.click()
    expect(form.locator(".map-value")).to_have_text(['"TypeError: cart is undefined"', '"checkout"'])
    expect(form.locator(".hook-title")).to_have_text("Fix TypeError: cart is undefined")
    expect(form.locator(".hook-prompt")).to_have_text("[fake:noop] Sentry reports TypeError: cart is undefined in checkout.")
    screenshot(page, "webhook-mapping-tester", full_page=True)
    # A row whose path finds nothing says so; an edit sets the last result aside.
    form.get_by_label("JSONPath, row 2").fill("$.data.issue.project.name")
    expect(form.locator(".hook-title")).to_have_count(0)
    test.click()
    expect(form.locator(".map-value").nth(1)).to_have_text("no match")
    form.get_by_label("JSONPath, row 2").fill("$.data.issue.project.slug")
    assert mode.api.ok("GET", f"/api/tasks/{config['id']}/runs")["items"] == []  # the tester ran nothing

    form.get_by_role("button", name="Add trigger").click()
    expect(page.locator(".trigger")).to_contain_text("maps error ← $.data.issue.title, project ← $.data.issue.project.slug")
    [trigger] = mode.api.ok("GET", f"/api/tasks/{config['id']}/triggers")["items"]
    assert trigger["config"]["paramMapping"] == {"error": "$.data.issue.title", "project": "$.data.issue.project.slug"}

    delivered = requests.post(f"{mode.url}/api/hooks/{path}", json=SENTRY_ALERT, timeout=30)
    assert delivered.status_code == 202, delivered.text
    task = mode.api.task(delivered.json()["runId"])
    assert task["title"] == "Fix TypeError: cart is undefined"
    assert task["prompt"] == "[fake:noop] Sentry reports TypeError: cart is undefined in checkout."


def test_a_schedule_takes_its_params_from_a_form_made_from_the_schema(page: Page, mode: LocalMode) -> None:
    config = mode.api.ok("POST", "/api/tasks", {
        "type": "standalone", "name": f"Weekly report {uuid.uuid4().hex[:6]}",
        "promptTemplate": "[fake:noop] Report on {{REPO_NAME}}: {{FOCUS_AREAS}}",
        "paramsSchema": {"type": "object", "required": ["REPO_NAME"], "properties": {
            "REPO_NAME": {"type": "string"}, "FOCUS_AREAS": {"type": "string", "default": "CVEs"},
            "DEPTH": {"type": "integer", "minimum": 1}}}}, status=201)
    page.goto(f"/tasks/scheduled/{config['id']}")
    page.locator("summary", has_text="Add a trigger").click()
    form = page.get_by_role("form", name="Add a trigger")
    form.get_by_label("Repeat").select_option("0 9 * * 1")
    expect(form.get_by_label("FOCUS_AREAS")).to_have_value("CVEs")
    form.get_by_label("DEPTH").fill("0")
    add = form.get_by_role("button", name="Add trigger")
    add.click()
    # The server's problems, field by field.
    expect(form.locator("#add-sp-REPO_NAME-error")).to_have_text("is required")
    expect(form.locator("#add-sp-DEPTH-error")).not_to_be_empty()
    assert mode.api.ok("GET", f"/api/tasks/{config['id']}/triggers")["items"] == []
    form.get_by_label("REPO_NAME (required)").fill("optio")
    form.get_by_label("DEPTH").fill("2")
    add.click()
    expect(page.locator(".trigger")).to_contain_text('params REPO_NAME="optio"')
    [trigger] = mode.api.ok("GET", f"/api/tasks/{config['id']}/triggers")["items"]
    assert trigger["config"] == {"cronExpression": "0 9 * * 1",
                                 "paramMapping": {"REPO_NAME": "optio", "FOCUS_AREAS": "CVEs", "DEPTH": 2}}


def test_new_task_asks_a_standalone_schedules_params_by_the_schema_typed(page: Page, mode: LocalMode) -> None:
    name = f"Digest {uuid.uuid4().hex[:6]}"
    page.goto("/tasks/new?mode=schedule")
    page.get_by_label("Repository").select_option(label="No repository: a standalone task")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Prompt template").fill("[fake:noop] Digest of {{TEAM}}")
    page.get_by_label("Parameter schema (optional)").fill(json.dumps(
        {"type": "object", "required": ["TEAM"], "properties": {"TEAM": {"type": "string"}}}))
    page.get_by_label("Parameter schema (optional)").blur()
    page.get_by_label("TEAM (required)").fill("platform")
    page.get_by_role("button", name="Create Schedule").click()
    page.wait_for_url("**/tasks/scheduled/*-*")
    [trigger] = mode.api.ok("GET", f"/api/tasks/{page.url.rsplit('/', 1)[1]}/triggers")["items"]
    assert trigger["config"]["paramMapping"] == {"TEAM": "platform"}


@pytest.mark.parametrize("kind,fields,config", [
    ("linear", {"Team key": "ENG", "Label (optional)": "optio", "Done state (optional)": "Shipped"},
     {"teamKey": "ENG", "label": "optio", "doneState": "Shipped"}),
    ("jira", {"Site": "https://acme.atlassian.net", "Project key": "ENG", "Label (optional)": "optio",
              "Account email": "bot@acme.com", "API token secret (optional)": "JIRA_API_TOKEN"},
     {"site": "https://acme.atlassian.net", "projectKey": "ENG", "label": "optio", "email": "bot@acme.com",
      "apiTokenSecret": "JIRA_API_TOKEN"}),
    ("notion", {"Database id": "0123456789abcdef0123456789abcdef", "Status property (optional)": "Status",
                "To-do state (optional)": "Not started", "Done state (optional)": "Done"},
     {"databaseId": "0123456789abcdef0123456789abcdef", "statusProperty": "Status", "todoState": "Not started",
      "doneState": "Done"}),
])
def test_every_ticket_source_the_api_accepts_has_its_own_fields(page: Page, mode: LocalMode, repo: dict[str, Any],
                                                                kind: str, fields: dict[str, str],
                                                                config: dict[str, Any]) -> None:
    before = {p["id"] for p in mode.api.ok("GET", "/api/ticket-providers")["items"]}
    page.goto("/settings")
    form = page.get_by_role("form", name="Add a ticket provider")
    form.get_by_label("Provider").select_option(kind)
    for label, value in fields.items():
        form.get_by_label(label, exact=True).fill(value)
    form.get_by_role("button", name="Add provider").click()
    expect(page.get_by_text("Ticket provider added.")).to_be_visible()
    [made] = [p for p in mode.api.ok("GET", "/api/ticket-providers")["items"] if p["id"] not in before]
    assert (made["kind"], made["repoId"], made["config"]) == (kind, repo["id"], config)
    mode.api.ok("DELETE", f"/api/ticket-providers/{made['id']}", status=204)


def test_a_ticket_source_the_api_refuses_says_which_field(page: Page, mode: LocalMode, repo: dict[str, Any]) -> None:
    page.goto("/settings")
    form = page.get_by_role("form", name="Add a ticket provider")
    form.get_by_label("Provider").select_option("jira")
    form.get_by_label("Site", exact=True).fill("acme")
    form.get_by_label("Project key", exact=True).fill("eng")
    form.get_by_label("Account email", exact=True).fill("bot@acme.com")
    form.get_by_role("button", name="Add provider").click()
    expect(form.locator("#provider-jira-site-error")).not_to_be_empty()
    expect(form.locator("#provider-jira-projectKey-error")).not_to_be_empty()
    expect(form.get_by_label("Project key", exact=True)).to_have_attribute("aria-invalid", "true")
    # A Linear label field of the same name is not in the form meanwhile: the error is where it is seen.
    expect(form.locator('[name="config.label"]')).to_have_count(1)
    assert [p for p in mode.api.ok("GET", "/api/ticket-providers")["items"] if p["kind"] == "jira"] == []
    screenshot(page, "ticket-source-errors", full_page=True)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_forms_open_and_filled_have_no_serious_accessibility_violation(browser: Browser, mode: LocalMode,  # noqa: F811
                                                                          repo: dict[str, Any], theme: str) -> None:
    if not AXE.exists():
        pytest.skip("axe-core is not installed: run `make axe`")
    config = mode.api.ok("POST", "/api/tasks", {
        "type": "repo-blueprint", "name": f"Checked {uuid.uuid4().hex[:6]}", "title": "Fix {{error}}",
        "prompt": "[fake:noop] {{error}}", "repoId": repo["id"],
        "paramsSchema": {"type": "object", "properties": {"error": {"type": "string"}}}}, status=201)
    page = new_page(browser, mode, viewport=WIDE)
    page.emulate_media(color_scheme=theme)  # type: ignore[arg-type]
    problems: dict[str, list[str]] = {}
    for viewport in (WIDE, PHONE):
        page.set_viewport_size(viewport)  # type: ignore[arg-type]
        page.goto(f"/tasks/scheduled/{config['id']}")
        page.locator("summary", has_text="Add a trigger").click()
        form = page.get_by_role("form", name="Add a trigger")
        found = serious_violations(page)  # the schedule's params form
        form.get_by_label("Trigger type").select_option("webhook")
        form.get_by_label("Param name, row 1").fill("error")
        form.get_by_label("JSONPath, row 1").fill("$.data.issue.title")
        form.locator("summary", has_text="Test with a sample payload").click()
        form.get_by_label("Sample payload (JSON)").fill(json.dumps(SENTRY_ALERT))
        form.get_by_role("button", name="Test the mapping").click()
        expect(form.locator(".hook-title")).to_have_text("Fix TypeError: cart is undefined")
        found += serious_violations(page)
        page.goto("/settings")
        page.get_by_role("form", name="Add a ticket provider").get_by_label("Provider").select_option("notion")
        found += serious_violations(page)
        if found:
            problems[f"{viewport['width']} px"] = found
    close(page)
    assert not problems, problems
