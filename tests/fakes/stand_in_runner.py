"""Stands in for `python -m optio_runner` under the local launcher, for the launcher contract tests:
notes each start in its workspace, then runs until the test writes the exit code it should end
with into `exit-code` there."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

workspace = Path(os.environ["OPTIO_WORKSPACE"])
with open(workspace / "starts", "a") as starts:
    starts.write(f"{os.getpid()}\n")
exit_file = workspace / "exit-code"
while not exit_file.exists():
    time.sleep(0.02)
sys.exit(int(exit_file.read_text()))
