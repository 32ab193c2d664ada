"""What the runner image promises without building it (no Docker engine here): the entrypoint
runs the runner module, and the runner starts in a clean virtualenv holding only its own
requirements, importing nothing but the standard library (and never chalicelib)."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import venv
from pathlib import Path

import pytest

from tests.agents.conftest import agent_versions

RUNNER_IMAGE = Path(__file__).resolve().parents[2] / "runner-image"
DOCKERFILE = (RUNNER_IMAGE / "Dockerfile").read_text()
AGENT_CLIS = ("@anthropic-ai/claude-code", "@openai/codex", "@github/copilot", "@google/gemini-cli", "opencode-ai")


def instruction(name: str) -> str:
    [line] = [line for line in DOCKERFILE.splitlines() if line.startswith(name + " ")]
    return line[len(name) + 1:]


def test_entrypoint_runs_the_runner_module() -> None:
    entrypoint = json.loads(instruction("ENTRYPOINT"))

    assert entrypoint[-2:] == ["-m", "optio_runner"]
    assert entrypoint[0] == "/opt/runner/bin/python"  # the venv the requirements went into
    assert "-r /app/requirements.txt" in DOCKERFILE


def test_runs_as_a_numeric_non_root_user() -> None:
    user = instruction("USER").split(":")[0]

    assert user.isdigit() and int(user) != 0


@pytest.mark.parametrize("package", AGENT_CLIS)
def test_every_agent_cli_is_pinned_in_the_one_list_of_versions(package: str) -> None:
    assert [v for v in agent_versions().values() if v.package == package and re.fullmatch(r"\d+\.\d+\.\d+", v.version)]


def test_the_image_installs_the_cli_versions_from_that_list() -> None:
    assert "COPY agent-versions.txt /tmp/agent-versions.txt" in DOCKERFILE
    assert "/tmp/agent-versions.txt)" in DOCKERFILE
    assert "@anthropic-ai" not in DOCKERFILE, "a version written in the Dockerfile too"
    assert sorted(agent_versions()) == ["claude-code", "codex", "copilot", "gemini", "opencode"]


def test_the_makefile_installs_the_same_versions_for_the_tests() -> None:
    makefile = (RUNNER_IMAGE.parent / "Makefile").read_text()
    assert "AGENT_VERSIONS := runner-image/agent-versions.txt" in makefile
    # `make test` installs them first (with the rest of TEST_DEPS, side by side), then runs pytest.
    first_step = makefile.split("\ntest:", 1)[1].split("\n")[1]
    assert "$(TEST_DEPS)" in first_step.split()
    assert "$(AGENTS_STAMP)" in makefile.split("\nTEST_DEPS :=", 1)[1].split("\n", 1)[0]


def test_the_runner_imports_nothing_from_chalicelib() -> None:
    for path in (RUNNER_IMAGE / "optio_runner").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not [name for name in names if name.split(".")[0] == "chalicelib"], path


def test_runner_starts_from_a_clean_virtualenv(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    # The image's environment: nothing of ours but PYTHONPATH pointing at the runner package.
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(RUNNER_IMAGE), "HOME": str(tmp_path)}
    installed = subprocess.run(
        [python, "-m", "pip", "install", "--disable-pip-version-check", "-r", RUNNER_IMAGE / "requirements.txt"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert installed.returncode == 0, installed.stderr

    started = subprocess.run([python, "-m", "optio_runner"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=60, check=False)

    assert started.returncode == 2
    assert "optio-runner: missing required environment variables: OPTIO_TASK_ID" in started.stderr
    assert "usage: python -m optio_runner" in started.stderr

    # Every module of the runner, imported there: what it loads beyond the interpreter's own
    # start-up is the standard library and itself.
    probe = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import importlib, pkgutil\n"
        f"for info in pkgutil.walk_packages([{str(RUNNER_IMAGE / 'optio_runner')!r}], 'optio_runner.'):\n"
        "    if info.name != 'optio_runner.__main__':\n"
        "        importlib.import_module(info.name)\n"
        "loaded = {name.split('.')[0] for name in set(sys.modules) - before}\n"
        "print(' '.join(sorted(loaded - set(sys.stdlib_module_names))))\n"
    )
    loaded = subprocess.run([python, "-c", probe], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.split() == ["optio_runner"]
