"""End-to-end tests run against local mode in a subprocess, as a user runs it."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.support.browser import DESKTOP, chromium, close, new_page
from tests.support.gitrepo import make_bare_repo
from tests.support.localmode import LocalMode, start_local_mode


@pytest.fixture(scope="module")
def local_mode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMode]:
    tmp = tmp_path_factory.mktemp("local-mode")
    mode = start_local_mode(tmp, OPTIO_MAX_CONCURRENT="2")
    yield mode
    mode.stop()


@pytest.fixture()
def repo_path(tmp_path: Path) -> Path:
    return make_bare_repo(tmp_path)


# The dashboard's browser tests: each module starts its own local mode as `mode`; these give it
# a browser, a signed-in page (at the module's VIEWPORT if it sets one) and a connected repository.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture()
def page(request: pytest.FixtureRequest, browser: Browser, mode: LocalMode) -> Iterator[Page]:
    page = new_page(browser, mode, viewport=getattr(request.module, "VIEWPORT", DESKTOP))
    yield page
    close(page)


@pytest.fixture(scope="module")
def repo(mode: LocalMode, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    bare = make_bare_repo(tmp_path_factory.mktemp("repo"))
    return mode.api.ok("POST", "/api/repos", {"repoUrl": str(bare)}, status=201)  # type: ignore[no-any-return]
