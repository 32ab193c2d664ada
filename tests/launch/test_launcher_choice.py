"""Which launcher the settings pick, in a fresh process each (settings are read at import):
local by default; the Kubernetes launcher with OPTIO_LAUNCHER=kubernetes, behind the launcher
Lambda when OPTIO_LAUNCHER_FUNCTION names it; and the API function never loads the kubernetes
client."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

PROBE = """
import sys
import app
from chalicelib.launch import get_launcher
try:
    launcher = get_launcher()
    print(type(launcher).__name__, launcher.name, "kubernetes" in sys.modules)
except ValueError as error:
    print("refused:", error)
"""
KUBERNETES = {"OPTIO_LAUNCHER": "kubernetes", "OPTIO_K8S_AUTH": "kubeconfig",
              "OPTIO_KUBECONFIG": "/nonexistent/kubeconfig", "OPTIO_RUNNER_IMAGE": "optio-runner:1"}


def probe(**env: str) -> str:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO_ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"OPTIO_LAUNCHER": ""}, "LocalLauncher local False"),
        (KUBERNETES, "KubernetesLauncher kubernetes False"),
        ({**KUBERNETES, "OPTIO_LAUNCHER_FUNCTION": "optio-dev-launcher"}, "AsyncLambdaLauncher kubernetes False"),
        ({"OPTIO_LAUNCHER": "kubernetes", "OPTIO_K8S_AUTH": "", "OPTIO_EKS_CLUSTER_NAME": ""},
         "refused: EKS auth needs OPTIO_EKS_CLUSTER_NAME and OPTIO_EKS_ENDPOINT"),
    ],
)
def test_the_settings_choose_the_launcher(env: dict[str, str], expected: str) -> None:
    assert probe(**env) == expected
