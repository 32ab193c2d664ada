"""Both launchers, ready to drive: the Kubernetes launcher against the loopback Kubernetes API,
the local launcher running a stand-in runner whose exit the test decides.

Product modules are imported inside the fixtures: this conftest loads before the session's
environment is settled (tests/conftest.py), and the product reads it at import."""
from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.fakes.kubernetes_api import FakeKubernetes

if TYPE_CHECKING:
    from chalicelib.launch.kubernetes import KubernetesLauncher

    from .support import LocalHarness


@pytest.fixture
def cluster() -> Iterator[FakeKubernetes]:
    fake = FakeKubernetes().start()
    yield fake
    fake.stop()


@pytest.fixture
def kubeconfig(cluster: FakeKubernetes, tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(cluster.kubeconfig()))  # JSON is YAML
    return path


@pytest.fixture
def k8s(kubeconfig: Path) -> KubernetesLauncher:
    from .support import kubernetes_launcher

    return kubernetes_launcher(kubeconfig)


@pytest.fixture
def local(tmp_path: Path) -> Iterator[LocalHarness]:
    from chalicelib.launch.local import LocalLauncher

    from .support import STAND_IN_RUNNER, LocalHarness

    # The launcher runs `<python> -m optio_runner`; this "python" runs the stand-in instead.
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STAND_IN_RUNNER}"\n')
    python.chmod(0o755)
    harness = LocalHarness(LocalLauncher(str(tmp_path / "work"), str(python)), tmp_path / "work")
    yield harness
    harness.launcher.shutdown()
