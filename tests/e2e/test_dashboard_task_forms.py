"""The task page's forms, in headless Chromium against local mode: dependencies picked from the
other tasks and removed after asking, subtasks created, and the API's refusals shown under the
field they name."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import WIDE, screenshot
from tests.support.localmode import LocalMode, start_local_mode
from tests.support.waiting import wait_for

VIEWPORT = WIDE  # the page fixture's
pytestmark = pytest.mark.xdist_group("e2e-dashboard-task-forms")


@pytest.fixture(scope="module")
def mode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMode]:
    # One slot: a blocker holds it, so what waits for it waits.
    mode = start_local_mode(tmp_path_factory.mktemp("task-forms"), OPTIO_MAX_CONCURRENT="1")
    yield mode
    mode.stop()


def create(mode: LocalMode, repo: dict[str, Any], title: str, prompt: str = "[fake:noop] x", **more: Any) -> str:
    return str(mode.api.ok("POST", "/api/tasks", {"repoId": repo["id"], "title": title, "prompt": prompt, **more},
                           status=201)["id"])


def dependencies(mode: LocalMode, task: str) -> set[str]:
    return {t["id"] for t in mode.api.ok("GET", f"/api/tasks/{task}/dependencies")["items"]}


def test_dependencies_are_picked_refused_with_their_reason_and_removed_after_asking(page: Page, mode: LocalMode,
                                                                                    repo: dict[str, Any]) -> None:
    blocker = create(mode, repo, "Holds the slot", "[fake:sleep=120] [fake:noop] x")
    mode.api.wait_state(blocker, "running", timeout_s=60)
    waiting = create(mode, repo, "Waits for the blocker", dependsOn=[blocker])
    other = create(mode, repo, "Another piece of work")
    after = create(mode, repo, "Comes after the waiting one", dependsOn=[waiting])
    mode.api.wait_state(waiting, "waiting_on_deps", timeout_s=30)

    page.goto(f"/tasks/{waiting}")
    deps = page.get_by_role("region", name="Depends on")
    expect(deps.get_by_role("link", name="Holds the slot")).to_be_visible()
    deps.locator("summary", has_text="Add dependencies").click()
    deps.get_by_label("Find tasks to wait for").fill("another piece")
    deps.get_by_label("Another piece of work").check()
    deps.get_by_role("button", name="Add dependencies").click()
    expect(deps.get_by_role("link", name="Another piece of work")).to_be_visible()
    assert dependencies(mode, waiting) == {blocker, other}

    # A cycle: the API's reason, under the field it names.
    deps.get_by_label("Find tasks to wait for").fill("comes after")
    deps.get_by_label("Comes after the waiting one").check()
    deps.get_by_role("button", name="Add dependencies").click()
    expect(deps.locator("#dep-find-error")).to_contain_text("cycle")
    expect(deps.get_by_label("Find tasks to wait for")).to_have_attribute("aria-invalid", "true")
    assert dependencies(mode, waiting) == {blocker, other}
    screenshot(page, "task-dependencies")

    deps.get_by_role("button", name="Remove dependency on Another piece of work").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading")).to_have_text("Remove this dependency?")
    dialog.get_by_role("button", name="Go back").click()
    assert dependencies(mode, waiting) == {blocker, other}
    deps.get_by_role("button", name="Remove dependency on Another piece of work").click()
    dialog.get_by_role("button", name="Remove 1 dependency").click()
    expect(deps.get_by_role("link", name="Another piece of work")).to_have_count(0)
    assert dependencies(mode, waiting) == {blocker}
    mode.api.ok("DELETE", f"/api/tasks/{after}", status=204)
    mode.api.ok("POST", f"/api/tasks/{blocker}/cancel")


def test_a_subtask_is_created_from_the_task_page_and_a_missing_field_is_named(page: Page, mode: LocalMode,
                                                                            repo: dict[str, Any]) -> None:
    parent = create(mode, repo, "Parent of a subtask", "[fake:sleep=120] [fake:noop] x")
    page.goto(f"/tasks/{parent}")
    subtasks = page.get_by_role("region", name="Subtasks")
    subtasks.locator("summary", has_text="Add a subtask").click()
    subtasks.get_by_label("Subtask prompt").fill("[fake:noop] write the tests")
    subtasks.get_by_role("button", name="Create subtask").click()
    expect(subtasks.locator("#subtask-title-error")).not_to_be_empty()
    expect(subtasks.get_by_label("Subtask title")).to_have_attribute("aria-invalid", "true")
    assert mode.api.ok("GET", f"/api/tasks/{parent}/subtasks")["items"] == []

    subtasks.get_by_label("Subtask title").fill("Write the tests")
    subtasks.get_by_label("Kind").select_option("step")
    expect(subtasks.get_by_label("Blocks the parent until it is done")).to_be_checked()  # the API's default for a step
    subtasks.get_by_role("button", name="Create subtask").click()
    expect(subtasks.get_by_role("link", name="Write the tests")).to_be_visible()
    made = wait_for(lambda: mode.api.ok("GET", f"/api/tasks/{parent}/subtasks")["items"], 10, what="the subtask")
    assert [(t["title"], t["taskType"], t["blocksParent"]) for t in made] == [("Write the tests", "step", True)]
    expect(subtasks.get_by_label("Subtask title")).to_have_value("")
    mode.api.ok("POST", f"/api/tasks/{parent}/cancel")
