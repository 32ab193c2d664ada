"""The `optio` CLI run as users run it: the console script installed in the venv (`make dev` does
`pip install -e .`), as a subprocess, against one local mode per module."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.github_api import FakeGitHub
from tests.support.gitrepo import make_bare_repo
from tests.support.localmode import LocalMode, start_local_mode

OPTIO = Path(sys.executable).parent / "optio"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Cli:
    """`optio` with its own HOME (so its own profiles) and no OPTIO_* from the test session."""

    home: Path
    env: dict[str, str]

    def __call__(self, *args: str, input: str | None = None, **env: str) -> Result:
        done = subprocess.run([str(OPTIO), *args], input=input, capture_output=True, text=True,
                              env={**self.env, **env}, timeout=120)
        return Result(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str, input: str | None = None, **env: str) -> Result:
        result = self(*args, input=input, **env)
        assert result.code == 0, f"optio {' '.join(args)} exited {result.code}: {result.err}"
        return result

    def popen(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen([str(OPTIO), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env={**self.env, **env})

    @property
    def config(self) -> Path:
        return self.home / ".config" / "optio" / "config.json"


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPTIO_", "_OPTIO"))}
    env.pop("XDG_CONFIG_HOME", None)
    return {**env, "HOME": str(home)}


@pytest.fixture(scope="module")
def github() -> Iterator[FakeGitHub]:
    server = FakeGitHub().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def local_mode(tmp_path_factory: pytest.TempPathFactory, github: FakeGitHub) -> Iterator[LocalMode]:
    assert OPTIO.exists(), f"{OPTIO} is missing: `make dev` (or `pip install -e .`) installs it"
    mode = start_local_mode(tmp_path_factory.mktemp("cli-local-mode"), OPTIO_MAX_CONCURRENT="3",
                            OPTIO_GITHUB_API_URL=github.url)
    yield mode
    mode.stop()


@pytest.fixture(scope="module")
def repo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bare_repo(tmp_path_factory.mktemp("cli-repo"))


@pytest.fixture()
def signed_out(tmp_path: Path) -> Cli:
    home = tmp_path / "home"
    home.mkdir()
    return Cli(home, clean_env(home))


@pytest.fixture()
def cli(signed_out: Cli, local_mode: LocalMode) -> Cli:
    """Signed in to local mode as the admin, in the default profile."""
    signed_out.ok("login", "--url", local_mode.url, input=local_mode.token + "\n")
    return signed_out
