"""The README's tour runs as written, and its settings table lists every variable."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from chalicelib.settings import VARIABLES
from tests.conftest import REPO_ROOT
from tests.support.localmode import LocalMode

README = (REPO_ROOT / "README.md").read_text()


def tour_script() -> str:
    section = README.split("<!-- tour:start -->", 1)[1].split("<!-- tour:end -->", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    assert blocks, "the README has no tour"
    return "set -euo pipefail\n" + "\n".join(blocks)


def test_every_setting_is_documented() -> None:
    for variable in VARIABLES:
        assert f"| `{variable.name}` | " in README, variable.name


def test_the_tour_runs_as_written(local_mode: LocalMode, tmp_path: Path) -> None:
    env = {**os.environ, "OPTIO": local_mode.url, "TOKEN": local_mode.token,
           "DEMO": str(tmp_path / "demo")}
    result = subprocess.run(["bash", "-c", tour_script()], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "\ncompleted\n" in result.stdout
    assert "optio: Add a greeting" in result.stdout
