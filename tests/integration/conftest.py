"""Integration tests: the API over HTTP against local mode in a subprocess (its own tables), and
the store and handlers in this process against the session's DynamoDB Local (this process's
tables, where no engine runs unless a test drives it)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.api import Api
from tests.support.gitrepo import make_bare_repo
from tests.support.localmode import LocalMode, start_local_mode


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMode]:
    mode = start_local_mode(tmp_path_factory.mktemp("stack"))
    yield mode
    mode.stop()


@pytest.fixture(scope="session")
def api(stack: LocalMode) -> Api:
    return stack.api


@pytest.fixture()
def anonymous(stack: LocalMode) -> Api:
    return Api(stack.url, None)


@pytest.fixture()
def bare_repo(tmp_path: Path) -> Path:
    return make_bare_repo(tmp_path)


@pytest.fixture()
def repo(api: Api, bare_repo: Path) -> dict[str, object]:
    return api.ok("POST", "/api/repos", {"repoUrl": str(bare_repo), "maxConcurrentTasks": 5},  # type: ignore[no-any-return]
                  status=201)
