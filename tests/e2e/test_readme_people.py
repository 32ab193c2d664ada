"""The README's "People" example runs as written, against a fresh local mode: the first
administrator by setup, users and their keys, roles refused below them, setup refused for good."""
from __future__ import annotations

import os
import subprocess

from tests.conftest import REPO_ROOT
from tests.e2e.test_readme import script
from tests.support.localmode import LocalMode


def test_the_people_example_runs_as_written(local_mode: LocalMode) -> None:
    env = {**os.environ, "OPTIO": local_mode.url,
           "SETUP_TOKEN": (local_mode.data_dir / "setup-token").read_text().strip()}
    result = subprocess.run(["bash", "-c", "set -euo pipefail\n" + script("people")], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    status, role, repo_refused, task_refused, setup_again = result.stdout.strip().splitlines()
    assert status == '{"setupNeeded":true,"identityProvider":false}'
    assert role == "member"
    assert repo_refused == "403"
    assert task_refused.startswith("this needs the member role") and task_refused.endswith("has viewer")
    assert setup_again == "409"


def test_the_setup_token_file_is_what_was_printed(local_mode: LocalMode) -> None:
    printed = local_mode.output.read_text()
    assert f"Setup token: {(local_mode.data_dir / 'setup-token').read_text().strip()}" in printed
