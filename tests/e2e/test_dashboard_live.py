"""The task page's live logs in headless Chromium against local mode (README "Live updates"): an
agent's line reaches the page over the WebSocket, not by a poll; a dropped socket reconnects and
resumes, and the page then shows every line once."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.integration.test_live_logs import say
from tests.support.browser import close, new_page
from tests.support.localmode import LocalMode, start_local_mode
from tests.support.waiting import wait_for

pytestmark = pytest.mark.xdist_group("e2e-dashboard-live")

# Every socket the page opens, so that the test can drop one as a network would, and what went
# over each.
RECORD_SOCKETS = """
window.__sockets = [];
window.__sent = [];
window.__received = [];
const Native = window.WebSocket;
window.WebSocket = class extends Native {
  constructor(...args) {
    super(...args);
    window.__sockets.push(this);
    this.addEventListener("message", (event) => window.__received.push(JSON.parse(event.data)));
  }
  send(data) { window.__sent.push(JSON.parse(data)); super.send(data); }
};
"""


@pytest.fixture(scope="module")
def mode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMode]:
    mode = start_local_mode(tmp_path_factory.mktemp("live"))
    yield mode
    mode.stop()


@pytest.fixture()
def page(browser: Browser, mode: LocalMode) -> Iterator[Page]:
    page = new_page(browser, mode)
    page.add_init_script(RECORD_SOCKETS)
    yield page
    close(page)


def replayed(page: Page, times: int) -> None:
    """Waits until the page's sockets have finished `times` replays."""
    page.wait_for_function(f"window.__received.filter(m => m.type === 'replayed').length >= {times}",
                           timeout=60_000)


def test_a_line_arrives_over_the_socket_and_a_reconnect_shows_each_line_once(
        page: Page, mode: LocalMode, repo: dict[str, Any], tmp_path: Path) -> None:
    cue = tmp_path / "cue"
    cue.mkdir()
    task = mode.api.ok("POST", "/api/tasks", {"repoId": repo["id"], "title": "Live logs",
                                              "prompt": f"[fake:echo-dir={cue}] go"}, status=201)
    say(cue, "01", "before the page")
    wait_for(lambda: any("before the page" in line["content"] for line in mode.api.logs(task["id"])),
             timeout_s=90, what="the first line")
    polls: list[str] = []
    page.on("request", lambda request: polls.append(request.url) if "/logs?after=" in request.url else None)
    page.goto(f"/tasks/{task['id']}")
    replayed(page, 1)
    logs = page.get_by_label("Agent logs")
    expect(logs).to_contain_text("before the page")
    expect(page.locator('section[data-live="true"]')).to_have_count(1, timeout=60_000)

    polled_before = len(polls)
    say(cue, "02", "pushed to the page")
    expect(logs).to_contain_text("pushed to the page", timeout=60_000)
    assert len(polls) == polled_before, polls[polled_before:]  # no poll: it came over the socket
    received = page.evaluate("window.__received")
    assert any("pushed to the page" in line["content"] for m in received if m["type"] == "lines" for line in m["lines"])

    # The socket drops; the page opens another and resumes from the last line it has.
    page.evaluate("window.__sockets.at(-1).close()")
    replayed(page, 2)
    sent = page.evaluate("window.__sent")
    assert len(sent) == 2 and sent[-1]["taskId"] == task["id"] and sent[-1]["after"] > 0, sent
    say(cue, "03", "after the reconnect")
    expect(logs).to_contain_text("after the reconnect", timeout=60_000)

    shown = [int(seq) for seq in logs.locator("[data-seq]").evaluate_all("items => items.map(i => i.dataset.seq)")]
    stored = [line["seq"] for line in mode.api.logs(task["id"])]
    assert shown == sorted(set(shown)), shown  # each once, in order
    assert set(stored) - set(shown) <= {seq for seq in stored if seq > max(shown)}, (shown, stored)
    say(cue, "end", "")
