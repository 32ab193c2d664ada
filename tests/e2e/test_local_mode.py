"""`make dev` as a newcomer meets it: embedded DynamoDB Local, a printed URL and token, data that
survives a restart."""
from __future__ import annotations

from pathlib import Path

from tests.support.localmode import start_local_mode
from tests.support.waiting import wait_for


def test_local_mode_starts_prints_its_token_and_keeps_data(tmp_path: Path) -> None:
    mode = start_local_mode(tmp_path, shared_store=False, OPTIO_TABLE_PREFIX="optio-dev-")
    try:
        printed = wait_for(lambda: "Admin token:" in mode.output.read_text() and mode.output.read_text(),
                           what="the banner")
        assert f"Optio is running at {mode.url}" in printed
        assert f"Admin token: {mode.token}" in printed
        assert mode.api.ok("GET", "/api/health")["checks"]["store"] == "ok"
        repo = mode.api.ok("POST", "/api/repos", {"repoUrl": "https://github.com/acme/webapp"},
                           status=201)
    finally:
        assert mode.stop() == 0
    again = start_local_mode(tmp_path, shared_store=False, OPTIO_TABLE_PREFIX="optio-dev-")
    try:
        assert again.token == mode.token
        assert again.api.ok("GET", f"/api/repos/{repo['id']}")["repoUrl"] == repo["repoUrl"]
        again.api.get(f"/api/health?token={again.token}")
        wait_for(lambda: "/api/health?token=[redacted]" in again.output.read_text(),
                 what="the redacted access log line")
        after_banner = again.output.read_text().rsplit("Admin token:", 1)[1].split("\n", 1)[1]
        assert again.token not in after_banner
    finally:
        again.stop()
