"""People in the dashboard, in headless Chromium: an invited member signs in through the identity
provider (the certified `oidc-provider` on loopback), creates a task, finds it under "My tasks"
and sees who did what in its history; a viewer cannot cancel it."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import free_port
from tests.fakes.oidc_provider import oidc_provider
from tests.support.api import Api
from tests.support.browser import close, new_page, screenshot
from tests.support.localmode import LocalMode, start_local_mode

pytestmark = pytest.mark.xdist_group("e2e-people")

CLIENT_SECRET = "dashboard-oidc-secret-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def mode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMode]:
    port = free_port()
    tmp = tmp_path_factory.mktemp("people")
    local = start_local_mode(tmp, OPTIO_OIDC_ISSUER=f"http://127.0.0.1:{port}", OPTIO_OIDC_CLIENT_ID="optio")
    with oidc_provider(port, f"{local.url}/api/auth/callback", "optio", CLIENT_SECRET, tmp / "provider.log"):
        local.api.ok("PUT", "/api/secrets/OIDC_CLIENT_SECRET", {"value": CLIENT_SECRET}, status=201)
        yield local
    local.stop()


def test_a_member_signs_in_with_the_provider_and_sees_who_did_what(browser: Browser, mode: LocalMode,  # noqa: F811
                                                                   repo: dict[str, Any]) -> None:
    email = f"grace-{uuid.uuid4().hex[:6]}@example.com"
    member = mode.api.ok("POST", "/api/users", {"email": email, "role": "member"}, status=201)
    viewer = mode.api.ok("POST", "/api/users", {"email": f"lin-{uuid.uuid4().hex[:6]}@example.com",
                                                "role": "viewer"}, status=201)
    page = new_page(browser, mode, signed_in=False)
    page.goto("/tasks")
    page.get_by_role("link", name="Sign in with your identity provider").click()
    # The provider's own development sign-in page, then its consent page.
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill("any")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "optio_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    created = page.evaluate("""async (repoId) => {
        const response = await fetch("/api/tasks", {method: "POST", headers: {"Content-Type": "application/json"},
          body: JSON.stringify({title: "Grace's task", prompt: "[fake:sleep=30] slow", repoId})});
        return response.json();
    }""", repo["id"])
    assert created["createdBy"] == f"user:{member['id']}"
    page.goto("/tasks?createdBy=me")
    expect(page.get_by_role("link", name="Grace's task")).to_be_visible()
    # With one task and no queue, nothing stray stands between the filters and the list.
    assert "null" not in page.locator("main").inner_text()
    screenshot(page, "my-tasks")
    page.get_by_role("link", name="Grace's task").click()
    expect(page.get_by_text(f"by user:{member['id']}")).to_be_visible()
    expect(page.locator(".events .actor").first).to_be_visible()

    key = mode.api.ok("POST", "/api/auth/api-keys", {"userId": viewer["id"]}, status=201)["token"]
    refused = Api(mode.url, key).post(f"/api/tasks/{created['id']}/cancel")
    assert refused.status_code == 403 and refused.json()["role"] == "member"
    mode.api.ok("POST", f"/api/tasks/{created['id']}/cancel")
    close(page)
