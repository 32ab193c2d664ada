"""The Job of one attempt: a valid object for a current Kubernetes release (strict schema,
offline), a deterministic DNS-1123 name, and a pod spec that keeps secrets out of the object: they
are in the attempt's own Secret, which its Job owns."""
from __future__ import annotations

import base64
import copy
import dataclasses
import json
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from kubernetes_validate.utils import latest_version

from chalicelib.launch import LaunchSpec, Resources
from chalicelib.launch.k8s_job import execution_label, job_manifest, job_name, secret_manifest
from chalicelib.launch.kubernetes import KubernetesLauncher
from chalicelib.store import secrets
from tests.fakes.kubernetes_api import FakeKubernetes

from .support import JOBS

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
TASK_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
SPEC = LaunchSpec(
    execution_id=TASK_ID,
    attempt=2,
    environment={"OPTIO_TASK_ID": TASK_ID, "OPTIO_RUN_TOKEN": "run-token", "OPTIO_PROMPT": "Fix it"},
    secrets={"ANTHROPIC_API_KEY": "sk-ant-secret-value", "GITHUB_TOKEN": "ghp_secret_value"},
)


def manifest(spec: LaunchSpec = SPEC) -> dict[str, Any]:
    return job_manifest(spec, JOBS)


def container(job: dict[str, Any]) -> dict[str, Any]:
    [only] = job["spec"]["template"]["spec"]["containers"]
    return only  # type: ignore[no-any-return]


def test_validates_against_the_kubernetes_schema_strictly() -> None:
    version = latest_version()
    assert tuple(int(part) for part in version.split(".")[:2]) >= (1, 33)

    assert kubernetes_validate.validate(manifest(), version, strict=True) == ".".join(version.split(".")[:2])


def test_the_validator_would_catch_a_mistake() -> None:
    wrong = copy.deepcopy(manifest())
    wrong["spec"]["backofLimit"] = 0  # a typo strict validation must refuse
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong, latest_version(), strict=True)


def test_the_cli_validates_it_offline(tmp_path: Path) -> None:
    path = tmp_path / "job.json"
    path.write_text(json.dumps(manifest()))

    checked = subprocess.run([sys.executable, "-m", "kubernetes_validate", "--strict", str(path)],
                             capture_output=True, text=True, timeout=60, check=False)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"passed for resource job/optio-{TASK_ID}-2" in checked.stdout


@pytest.mark.parametrize("task_id", [TASK_ID, "tsk_01J9Z8Y7X6W5V4", "A" * 100, "--weird..ID--", "ü"])
@pytest.mark.parametrize("attempt", [1, 12, 123456])
def test_job_name_is_a_deterministic_dns_label(task_id: str, attempt: int) -> None:
    name = job_name(task_id, attempt)

    assert name == job_name(task_id, attempt)
    assert len(name) <= 63 and DNS_LABEL.match(name), name
    assert name.startswith("optio-") and name.endswith(f"-{attempt}")
    assert LABEL_VALUE.match(execution_label(task_id)) and len(execution_label(task_id)) <= 63


def test_job_name_keeps_the_whole_task_id_and_tells_attempts_apart() -> None:
    assert job_name(TASK_ID, 1) == f"optio-{TASK_ID}-1"
    assert job_name(TASK_ID, 1) != job_name(TASK_ID, 2)
    assert job_name(str(uuid.uuid4()), 1) != job_name(str(uuid.uuid4()), 1)


def test_job_spec() -> None:
    job = manifest()
    spec = job["spec"]
    pod = spec["template"]["spec"]

    assert job["metadata"]["name"] == f"optio-{TASK_ID}-2"
    assert job["metadata"]["namespace"] == "optio"
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"], spec["ttlSecondsAfterFinished"]) == (0, 3600, 600)
    assert pod["restartPolicy"] == "Never"
    assert pod["serviceAccountName"] == "optio-runner"
    for labels in (job["metadata"]["labels"], spec["template"]["metadata"]["labels"]):
        assert labels["optio.dev/task-id"] == TASK_ID and labels["optio.dev/attempt"] == "2"
    assert container(job)["image"] == "optio-runner:test"
    assert manifest(LaunchSpec(TASK_ID, 1, {}, image="registry/custom:1"))["spec"]["template"]["spec"][
        "containers"][0]["image"] == "registry/custom:1"


def test_runs_as_non_root_in_an_empty_dir_workspace() -> None:
    job = manifest()
    pod = job["spec"]["template"]["spec"]
    runner = container(job)

    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 1000
    assert runner["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    assert pod["volumes"] == [{"name": "workspace", "emptyDir": {}}]
    assert runner["volumeMounts"] == [{"name": "workspace", "mountPath": "/workspace"}]
    assert {"name": "OPTIO_WORKSPACE", "value": "/workspace"} in runner["env"]


def test_environment_is_literal_and_secrets_come_from_the_attempts_own_secret() -> None:
    job = manifest()
    runner = container(job)
    env = {entry["name"]: entry for entry in runner["env"]}
    name = job["metadata"]["name"]

    assert env["OPTIO_PROMPT"] == {"name": "OPTIO_PROMPT", "value": "Fix it"}
    assert env["ANTHROPIC_API_KEY"] == {"name": "ANTHROPIC_API_KEY", "valueFrom": {
        "secretKeyRef": {"name": name, "key": "ANTHROPIC_API_KEY"}}}
    assert "envFrom" not in runner  # no Secret of the cluster's that users would fill a second time
    text = json.dumps(job)
    assert "sk-ant-secret-value" not in text and "ghp_secret_value" not in text


def test_the_attempts_secret_holds_exactly_its_secrets_and_is_owned_by_its_job() -> None:
    secret = secret_manifest(SPEC, "optio", owner_uid="0123")
    name = job_name(SPEC.execution_id, SPEC.attempt)

    assert secret["metadata"]["name"] == name and secret["metadata"]["namespace"] == "optio"
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == dict(SPEC.secrets)
    assert secret["metadata"]["ownerReferences"] == [{"apiVersion": "batch/v1", "kind": "Job", "name": name,
                                                      "uid": "0123", "controller": True, "blockOwnerDeletion": True}]
    assert "ownerReferences" not in secret_manifest(SPEC, "optio")["metadata"]
    kubernetes_validate.validate(secret, latest_version(), strict=True)


def test_default_and_given_resources() -> None:
    assert container(manifest())["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"},
                                                  "limits": {"memory": "4Gi"}}
    given = Resources.from_settings({"requests": {"memory": "2Gi"}, "limits": {"cpu": "2", "memory": "8Gi"}})
    bigger = LaunchSpec(TASK_ID, 1, {}, resources=given)

    assert container(manifest(bigger))["resources"] == {"requests": {"cpu": "500m", "memory": "2Gi"},
                                                        "limits": {"cpu": "2", "memory": "8Gi"}}
    kubernetes_validate.validate(manifest(bigger), latest_version(), strict=True)


def test_no_image_anywhere_is_refused() -> None:
    with pytest.raises(ValueError, match="OPTIO_RUNNER_IMAGE"):
        job_manifest(SPEC, dataclasses.replace(JOBS, image=None))


def test_the_launcher_sends_exactly_this_manifest(k8s: KubernetesLauncher, cluster: FakeKubernetes) -> None:
    k8s.launch(SPEC)

    [create] = cluster.made("POST", "/apis/batch/v1/namespaces/optio/jobs$")
    assert create.body == manifest()
    assert create.authorization == "Bearer fake-token"


def test_the_launcher_writes_the_secret_first_then_gives_it_to_the_job(k8s: KubernetesLauncher,
                                                                        cluster: FakeKubernetes) -> None:
    k8s.launch(SPEC)
    k8s.launch(SPEC)  # a second delivery of the same launch changes nothing

    name = job_name(SPEC.execution_id, SPEC.attempt)
    writes = [(r.method, r.path) for r in cluster.requests if "/secrets" in r.path or "/jobs" in r.path]
    assert writes[:3] == [("POST", "/api/v1/namespaces/optio/secrets"), ("POST", "/apis/batch/v1/namespaces/optio/jobs"),
                          ("PUT", f"/api/v1/namespaces/optio/secrets/{name}")]
    job, stored = cluster.job(name), cluster.secret(name)
    assert job is not None and stored is not None
    assert stored["data"] == secret_manifest(SPEC, "optio")["data"]
    assert stored["metadata"]["ownerReferences"][0]["uid"] == job["metadata"]["uid"]
    k8s.cancel(SPEC.execution_id, SPEC.attempt)
    assert cluster.secret(name) is None  # gone with its Job


def test_the_lambda_payload_round_trips_with_secret_values_sealed() -> None:
    payload = json.loads(json.dumps(SPEC.to_payload(secrets.seal)))

    assert "sk-ant-secret-value" not in json.dumps(payload)
    restored = LaunchSpec.from_payload(payload, secrets.unseal)
    assert (restored.execution_id, restored.attempt, dict(restored.environment), restored.resources) == (
        SPEC.execution_id, SPEC.attempt, dict(SPEC.environment), SPEC.resources)
    assert dict(restored.secrets) == dict(SPEC.secrets)
    assert job_manifest(restored, JOBS) == manifest()
