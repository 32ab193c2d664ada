"""Stands in for `python -m optio_runner` under the local launcher, for the launcher contract tests:
notes each start beside its workspace (which the launcher removes once it exits) and says so on
its output, then runs until the test writes the exit code it should end with into `exit-code` in
the workspace."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

workspace = Path(os.environ["OPTIO_WORKSPACE"])
with open(workspace.parent / f"{workspace.name}.starts", "a") as starts:
    starts.write(f"{os.getpid()}\n")
print(f"stand-in runner {os.getpid()} started", flush=True)
exit_file = workspace / "exit-code"
while not exit_file.exists():
    time.sleep(0.02)
sys.exit(int(exit_file.read_text()))
