"""The fault suite: each module injects one fault into local mode, run as a user runs it with
the stand-in agent, and asserts that nothing was lost."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.github_api import FakeGitHub
from tests.faults.engine_on_a_cluster import FaultyCluster
from tests.support.gitrepo import make_bare_repo
from tests.support.localmode import LocalMode, start_local_mode

WEBHOOK_SECRET = "whsec-faults"


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


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGitHub]:
    server = FakeGitHub().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def remotes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("remotes")


@pytest.fixture(scope="module")
def github_mode(tmp_path_factory: pytest.TempPathFactory, fake: FakeGitHub, remotes: Path) -> Iterator[LocalMode]:
    """Local mode on the GitHub stand-in, its repositories' remotes in `remotes`. The watcher never
    looks during a test: only what a test delivers acts."""
    mode = start_local_mode(tmp_path_factory.mktemp("github"), OPTIO_GITHUB_API_URL=fake.url,
                            OPTIO_PR_WATCH_INTERVAL="3600000", OPTIO_TICKET_SYNC_INTERVAL="3600000",
                            GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0=f"url.file://{remotes}/.insteadOf",
                            GIT_CONFIG_VALUE_0="https://github.com/")
    mode.api.ok("PUT", "/api/secrets/GITHUB_TOKEN", {"value": fake.token}, status=201)
    mode.api.ok("PUT", "/api/secrets/GITHUB_WEBHOOK_SECRET", {"value": WEBHOOK_SECRET}, status=201)
    yield mode
    mode.stop()


@pytest.fixture(scope="module")
def engine_tables() -> None:
    """The tables of this process's DynamoDB Local, for the faults that run the executor here."""
    from chalicelib.store.tables import create_all

    create_all()


@pytest.fixture
def cluster() -> Iterator[FaultyCluster]:
    """The Kubernetes stand-in the executor's second process launches on (`engine_on_a_cluster`)."""
    fake = FaultyCluster().start()
    yield fake
    fake.stop()
