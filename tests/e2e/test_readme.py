"""The README's tour runs as written, and its settings table lists every variable."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from chalicelib.settings import VARIABLES
from tests.conftest import REPO_ROOT
from tests.support.localmode import LocalMode

README = (REPO_ROOT / "README.md").read_text()


def script(name: str) -> str:
    section = README.split(f"<!-- {name}:start -->", 1)[1].split(f"<!-- {name}:end -->", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    assert blocks, f"the README has no {name} block"
    return "\n".join(blocks)


def run(local_mode: LocalMode, tmp_path: Path, *names: str, **extra: str) -> str:
    env = {**os.environ, "OPTIO": local_mode.url, "TOKEN": local_mode.token,
           "DEMO": str(tmp_path / "demo"), **extra}
    source = "set -euo pipefail\n" + "\n".join(script(name) for name in names)
    result = subprocess.run(["bash", "-c", source], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_every_setting_is_documented() -> None:
    for variable in VARIABLES:
        assert f"| `{variable.name}` | " in README, variable.name


def test_the_tour_runs_as_written(local_mode: LocalMode, tmp_path: Path) -> None:
    output = run(local_mode, tmp_path, "tour")
    assert "\ncompleted\n" in output
    assert "optio: Add a greeting" in output


def test_the_scheduled_examples_run_as_written(local_mode: LocalMode, tmp_path: Path) -> None:
    output = run(local_mode, tmp_path, "tour", "scheduled").split("optio: Add a greeting", 1)[1]
    next_fire, title, prompt, report_prompt, outcome = output.strip().splitlines()[-5:]
    assert next_fire.endswith("T06:00:00.000Z"), next_fire
    assert title == "Patch high-severity advisories"
    assert prompt == "Sentry reports TypeError: cart is undefined in checkout. Find the cause and fix it."
    assert report_prompt == ("Analyze the dependency list for optio and produce a security report. "
                             "Focus on: CVEs, outdated packages, license issues")
    assert outcome == "report: completed"


def test_the_connections_example_runs_as_written(local_mode: LocalMode, tmp_path: Path) -> None:
    output = run(local_mode, tmp_path, "tour", "connections").split("optio: Add a greeting", 1)[1]
    secrets, outcome, first_line, deleting = output.strip().splitlines()[-4:]
    assert secrets == "['WIKI_TOKEN']"
    assert outcome == "triage: completed"
    assert first_line == "connections (MCP servers) for the agent: wiki"
    assert deleting == "409"


def test_the_command_line_examples_run_as_written(local_mode: LocalMode, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()  # the CLI's profiles, not the user's
    output = run(local_mode, tmp_path, "tour", "cli", HOME=str(home),
                 PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    cli = output.split("optio: Add a greeting", 1)[1]
    assert "Done: the change is in place." in cli and "resume: exit 3" in cli
    assert "T06:00:00.000Z" in cli and "Patch high-severity advisories" in cli and "SIGNING_KEY" in cli
