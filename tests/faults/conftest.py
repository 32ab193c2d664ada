"""The fault suite: each module injects one fault into local mode, run as a user runs it with
the stand-in agent, and asserts that nothing was lost."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.gitrepo import make_bare_repo
from tests.support.localmode import LocalMode, start_local_mode


@pytest.fixture(scope="module")
def local_mode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMode]:
    mode = start_local_mode(tmp_path_factory.mktemp("faults"))
    yield mode
    mode.stop()


@pytest.fixture()
def repo_id(local_mode: LocalMode, tmp_path: Path) -> str:
    repo = local_mode.api.ok("POST", "/api/repos", {"repoUrl": str(make_bare_repo(tmp_path)),
                                                    "maxConcurrentTasks": 5}, status=201)
    return str(repo["id"])
