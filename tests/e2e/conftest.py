"""End-to-end tests run against local mode in a subprocess, as a user runs it."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
