"""What API Gateway answers itself, before the API function runs, leaves in our error shape
(`{"error": ...}`, as chalicelib.api.http writes every 4xx): a route the API does not have is a
404 rather than the gateway's 403 "Missing Authentication Token", at the stage URL and on a custom
domain; an unknown page outside the API is the dashboard's own 404 page (the catch-all resource);
an oversized body keeps its 413."""
from __future__ import annotations

import pytest
import requests

from .deployment import Deployment

pytestmark = pytest.mark.xdist_group("topology")


@pytest.mark.parametrize("method,path", [
    ("GET", "/api/no-such-thing"),        # no such resource
    ("PUT", "/api/health"),               # a resource without that method
    ("DELETE", "/api/openapi.json"),
])
def test_an_unknown_route_is_a_404_in_our_shape(deployed: Deployment, method: str, path: str) -> None:
    assert deployed.custom_domain is not None
    for base in (deployed.url, f"http://127.0.0.1:{deployed.custom_domain.port}"):
        response = requests.request(method, base + path, headers={"Authorization": f"Bearer {deployed.token}"},
                                    timeout=30)
        assert response.status_code == 404, (base, response.status_code, response.text)
        body = response.json()
        assert set(body) == {"error"} and body["error"].startswith(f"not found: no route {method} "), body
        assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("path", ["/tasks/abc/def", "/no-such-page", "/static/x/y"])
def test_an_unknown_page_is_the_apps_own_not_found_page(deployed: Deployment, path: str) -> None:
    """Not the gateway's JSON: the dashboard's shell with a 404, its links under the base path it
    was reached at (the stage at the execute-api URL, the root on a custom domain)."""
    assert deployed.custom_domain is not None
    for base, prefix in ((deployed.url, "/api"), (f"http://127.0.0.1:{deployed.custom_domain.port}", "")):
        response = requests.get(base + path, timeout=30)
        assert response.status_code == 404, (base, response.status_code, response.text)
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert f'<meta name="optio-base" content="{prefix}">' in response.text
        assert f'src="{prefix}/static/app.js"' in response.text


def test_an_unknown_route_deeper_than_any_under_api_stays_a_json_404(deployed: Deployment) -> None:
    """The catch-all takes it (no resource is that deep), and answers as the gateway does."""
    response = requests.get(f"{deployed.url}/api/tasks/abc/def/ghi/jkl", timeout=30,
                            headers={"Authorization": f"Bearer {deployed.token}"})
    assert response.status_code == 404 and response.headers["Content-Type"] == "application/json"
    assert response.json() == {"error": "not found: no route GET /api/api/tasks/abc/def/ghi/jkl"}


def test_an_oversized_body_is_a_413_in_our_shape(deployed: Deployment) -> None:
    response = requests.post(f"{deployed.url}/api/tasks", data=b"x" * (10 * 1024 * 1024 + 1), timeout=60,
                             headers={"Authorization": f"Bearer {deployed.token}", "Content-Type": "application/json"})
    assert response.status_code == 413 and response.json() == {"error": "Request Too Long"}, response.text
