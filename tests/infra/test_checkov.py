"""checkov over what a deploy runs: the synthesised templates (nested ones too), the Kubernetes
manifests (the stack's and an agent's Job) and the Dockerfiles. What is left failing is the README's
"Security" section's list, and no more than ten."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from chalicelib.launch import LaunchSpec
from chalicelib.launch.k8s_job import job_manifest

from .conftest import REPO_ROOT, Assembly
from .test_isolation import JOBS, _manifests

pytestmark = [pytest.mark.xdist_group("infra"), pytest.mark.timeout(900)]

CHECKOV = REPO_ROOT / ".deps" / "checkov" / "bin" / "checkov"
DOCKERFILES = [REPO_ROOT / "infra" / "watcher.Dockerfile", REPO_ROOT / "runner-image" / "Dockerfile"]
MAX_FAILED = 10


def _checkov(*args: str) -> list[dict[str, Any]]:
    assert CHECKOV.exists(), "checkov is not installed: run `make infra`"
    result = subprocess.run([str(CHECKOV), "--quiet", "--compact", "--output", "json", "--skip-download", *args],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode in (0, 1), result.stderr[-4000:]
    reports = json.loads(result.stdout) if result.stdout.strip() else []
    reports = reports if isinstance(reports, list) else [reports]
    return [f for r in reports if isinstance(r, dict) and "results" in r for f in r["results"]["failed_checks"]]


def failed_checks(tmp: Path, assemblies: list[Assembly]) -> set[tuple[str, str]]:
    """(check id, resource) of every failed check; the same resource in several stages is one."""
    templates, manifests = tmp / "templates", tmp / "manifests"
    templates.mkdir()
    manifests.mkdir()
    for n, assembly in enumerate(assemblies):
        for path in assembly.template_files():
            shutil.copy(path, templates / f"{n}-{path.name}")
            for i, manifest in enumerate(_manifests(json.loads(path.read_text()))):
                (manifests / f"{n}-{path.stem}-{i}.json").write_text(json.dumps(manifest))
    spec = LaunchSpec(execution_id="7c9e6679-7425-40de-944b-e07fc1f90ae7", attempt=1,
                      environment={"OPTIO_PROMPT": "Fix it"}, secrets={"GITHUB_TOKEN": "ghp_x"})
    (manifests / "agent-job.json").write_text(json.dumps(job_manifest(spec, JOBS)))
    found = _checkov("--directory", str(templates), "--framework", "cloudformation")
    found += _checkov("--directory", str(manifests), "--framework", "kubernetes")
    found += _checkov(*(a for f in DOCKERFILES for a in ("--file", str(f))), "--framework", "dockerfile")
    # A Job's name carries its execution; a Dockerfile's resource its path.
    return {(f["check_id"], re.sub(r"optio-[0-9a-f]{8,}\S*", "optio-<job>",
                                   Path(f["resource"]).name if f["resource"].startswith("/") else f["resource"]))
            for f in found}


# Each one explained in README "Security" ("What checkov still reports").
EXPLAINED = {
    *(("CKV_K8S_" + n, "Job.optio.optio-<job>") for n in ("11", "15", "22", "35", "40", "43")),
    ("CKV_DOCKER_2", "Dockerfile."),  # runner-image/Dockerfile
    ("CKV_DOCKER_7", "Dockerfile.FROM"),
}


def test_checkov_fails_only_what_the_readme_explains(assembly: Assembly, imported: Assembly,
                                                     tmp_path: Path) -> None:
    found = failed_checks(tmp_path, [assembly, imported])
    assert found == EXPLAINED
    assert len(found) <= MAX_FAILED
    security = (REPO_ROOT / "README.md").read_text().split("## Security", 1)[1].split("\n## ", 1)[0]
    assert {check for check, _ in found} - set(re.findall(r"CKV\w+", security)) == set()
