"""The dashboard is served by the app itself: public pages and assets with their content types,
and the sign-in that turns a token into the session cookie. The API stays behind its token."""
from __future__ import annotations

import pytest

from tests.support.api import Api
from tests.support.localmode import LocalMode

pytestmark = pytest.mark.xdist_group("stack")


@pytest.mark.parametrize("path", ["/", "/tasks", "/tasks/new", "/tasks/scheduled", "/tasks/3f0c1d2e",
                                  "/tasks/scheduled/3f0c1d2e", "/templates", "/repos", "/issues", "/settings"])
def test_every_page_path_serves_the_shell_without_a_token(anonymous: Api, path: str) -> None:
    response = anonymous.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<script type="module" src="/static/app.js">' in response.text


@pytest.mark.parametrize(("name", "content_type"), [
    ("app.js", "text/javascript; charset=utf-8"), ("page-task-detail.js", "text/javascript; charset=utf-8"),
    ("triggers.js", "text/javascript; charset=utf-8"), ("params-form.js", "text/javascript; charset=utf-8"),
    ("style.css", "text/css; charset=utf-8"), ("index.html", "text/html; charset=utf-8"),
])
def test_assets_are_served_with_their_content_type(anonymous: Api, name: str, content_type: str) -> None:
    response = anonymous.get(f"/static/{name}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.headers["Cache-Control"] == "no-cache"


def test_an_unknown_asset_is_a_404_not_a_500(anonymous: Api) -> None:
    for name in ("nope.js", "dashboard.py", "%2e%2e%2fapp.py"):
        assert anonymous.get(f"/static/{name}").status_code == 404


@pytest.mark.parametrize("path", ["/no-such-page", "/tasks/abc/def", "/static/a/b"])
def test_a_page_no_route_has_is_the_shell_with_a_404(anonymous: Api, path: str) -> None:
    # One segment reaches the app's catch-all route (as every unknown path does on API Gateway),
    # more reach the local server's own answer: the same page either way.
    response = anonymous.get(path)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<script type="module" src="/static/app.js">' in response.text


@pytest.mark.parametrize("path", ["/api", "/api/no/such/route"])
def test_an_api_path_no_route_has_stays_a_json_404(anonymous: Api, path: str) -> None:
    response = anonymous.get(path)
    assert response.status_code == 404 and response.headers["Content-Type"] == "application/json"
    assert set(response.json()) == {"error"} and path in response.json()["error"]


def test_the_api_still_needs_a_token(anonymous: Api) -> None:
    assert anonymous.get("/api/tasks").status_code == 401
    assert anonymous.get("/api/auth/api-keys").status_code == 401


def test_signing_in_sets_the_session_cookie_and_signing_out_clears_it(stack: LocalMode, anonymous: Api) -> None:
    assert anonymous.post("/api/auth/session", {"token": "optio_pat_wrong"}).status_code == 401
    bad = anonymous.post("/api/auth/session", {})
    assert bad.status_code == 400 and bad.json()["details"][0]["field"] == "token"
    signed_in = anonymous.post("/api/auth/session", {"token": stack.token})
    assert signed_in.status_code == 200 and signed_in.json() == {"principal": "admin", "role": "admin"}
    assert signed_in.headers["Set-Cookie"] == f"optio_session={stack.token}; HttpOnly; SameSite=Strict; Path=/"
    # The requests session now carries the cookie, and it opens the API.
    assert anonymous.get("/api/tasks").status_code == 200
    signed_out = anonymous.request("DELETE", "/api/auth/session")
    assert signed_out.status_code == 204
    assert signed_out.headers["Set-Cookie"] == "optio_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
    assert anonymous.get("/api/tasks").status_code == 401


def test_an_api_key_signs_in_too(api: Api, anonymous: Api) -> None:
    token = api.ok("POST", "/api/auth/api-keys", {"name": "dashboard"}, status=201)["token"]
    assert anonymous.post("/api/auth/session", {"token": token}).json()["principal"].startswith("apikey:")


def test_pages_are_no_api_operations_but_the_session_is(api: Api) -> None:
    paths = api.ok("GET", "/api/openapi.json")["paths"]
    assert all(path.startswith("/api/") for path in paths)
    assert set(paths["/api/auth/session"]) == {"post", "delete"}
    assert paths["/api/auth/session"]["post"]["security"] == []
