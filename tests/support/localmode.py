"""Local mode started as a user starts it: `python -m chalicelib.local` in a subprocess."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.conftest import FAKES, REPO_ROOT, free_port

from .api import Api
from .waiting import wait_for

# Deadlines for a machine running the suite's workers and more: a local mode of its own store
# (`shared_store=False`) stops its DynamoDB Local's JVM too, which took over 20 s under load, and
# a SIGKILL then failed a test that asserts a clean exit. They only cost time when a test fails.
START_TIMEOUT_S = 180
STOP_TIMEOUT_S = 90


@dataclass
class LocalMode:
    process: subprocess.Popen[bytes]
    api: Api
    url: str
    token: str
    data_dir: Path
    output: Path
    agent_log: Path

    def agent_runs(self) -> list[dict[str, Any]]:
        if not self.agent_log.exists():
            return []
        return [json.loads(line) for line in self.agent_log.read_text().splitlines() if line]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_local_mode(tmp: Path, shared_store: bool = True, **env: str) -> LocalMode:
    data_dir = tmp / "data"
    port = free_port()
    agent_log = tmp / "agent-runs.jsonl"
    full_env = {
        **os.environ,
        "OPTIO_PORT": str(port),
        "OPTIO_DATA_DIR": str(data_dir),
        "OPTIO_TABLE_PREFIX": f"e2e-{uuid.uuid4().hex[:8]}-",
        "OPTIO_AGENT_BIN_CLAUDE_CODE": str(FAKES / "claude"),
        "FAKE_AGENT_LOG": str(agent_log),
        # The stand-in agent's own setting: runners get only an allow-list of the environment.
        "OPTIO_AGENT_PASS_ENV": "FAKE_AGENT_LOG",
        **env,
    }
    full_env.pop("OPTIO_API_TOKEN", None)
    full_env.pop("OPTIO_RUN_TOKEN_SECRET", None)
    full_env.pop("OPTIO_SECRETS_KEY", None)
    full_env.pop("OPTIO_SETUP_TOKEN", None)  # an in-process stack of this worker may have set it
    if not shared_store:
        full_env.pop("OPTIO_DYNAMODB_ENDPOINT", None)
    output = tmp / "local-mode.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "chalicelib.local"], cwd=REPO_ROOT, env=full_env,
        stdout=output.open("ab"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"local mode exited: {output.read_text()[-3000:]}")
        try:
            return requests.get(url + "/api/health", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    wait_for(healthy, timeout_s=START_TIMEOUT_S, interval_s=0.05, what="local mode to answer")
    token = (data_dir / "admin-token").read_text().strip()
    return LocalMode(process, Api(url, token), url, token, data_dir, output, agent_log)
