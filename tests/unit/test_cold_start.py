"""A Lambda cold start imports app: the heavy clients load where they are used, not then (issue 18)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Each is loaded by the first request that needs it: schema validation, a cron expression, a
# secret, a webhook mapping, the forge, the cluster.
LAZY = ("jsonschema", "croniter", "cryptography", "jsonpath_ng", "github", "kubernetes")


def test_importing_app_loads_none_of_the_heavy_clients() -> None:
    code = f"import sys, app; print(' '.join(m for m in {LAZY!r} if m in sys.modules))"
    env = {**os.environ, "OPTIO_DYNAMODB_ENDPOINT": "http://127.0.0.1:9", "OPTIO_RUN_TOKEN_SECRET": "x"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.split() == []
