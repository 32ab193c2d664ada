"""What an agent pod's environment is made of, from the real launch spec of a task in this
process against the session's DynamoDB Local: the container's own list (the runner's input, the
workspace, the agents' secrets by reference), never Optio's own keys, no service links."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from chalicelib.core.states import State
from chalicelib.engine.executor import launch_input
from chalicelib.launch.k8s_job import job_manifest
from chalicelib.services.repos import register_repo
from chalicelib.store import executions, secrets
from chalicelib.store.tables import create_all
from tests.launch.support import JOBS

pytestmark = pytest.mark.xdist_group("in-process")
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture()
def stored_secrets() -> Iterator[None]:
    create_all()
    secrets.put("ANTHROPIC_API_KEY", "sk-ant-for-agents", NOW)
    secrets.put("GITHUB_WEBHOOK_SECRET", "whsec-of-the-server", NOW)
    yield
    secrets.delete("GITHUB_WEBHOOK_SECRET")


def test_a_pod_gets_the_agents_secrets_but_none_of_optios_own(stored_secrets: None) -> None:
    repo = register_repo({"repoUrl": f"https://github.com/acme/pods-{uuid.uuid4().hex[:8]}"})
    task = executions.create({
        "id": str(uuid.uuid4()), "state": State.PROVISIONING.value, "title": "t", "prompt": "p",
        "repoId": repo.id, "repoUrl": repo.repoUrl, "repoBranch": "main", "branchName": "optio/pods",
        "agentType": "claude-code", "attempt": 1,
    }, NOW)
    spec = launch_input(task, 1)[0]
    assert "ANTHROPIC_API_KEY" in spec.secrets and "GITHUB_WEBHOOK_SECRET" not in spec.secrets

    pod = job_manifest(spec, JOBS)["spec"]["template"]["spec"]
    assert pod["enableServiceLinks"] is False and pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    names = [entry["name"] for entry in container["env"]]
    assert set(names) == {*spec.environment, "OPTIO_WORKSPACE", *spec.secrets}
    assert not {"OPTIO_API_TOKEN", "OPTIO_SECRETS_KEY", "OPTIO_RUN_TOKEN_SECRET", "GITHUB_WEBHOOK_SECRET"} & set(names)
    assert "whsec-of-the-server" not in repr(container)


def test_a_runs_agent_gets_only_the_secrets_its_standalone_task_lists(stored_secrets: None) -> None:
    from chalicelib.services.standalone import create_standalone

    secrets.put("SENTRY_TOKEN", "sntr-for-reports", NOW)
    scoped = create_standalone({"type": "standalone", "name": f"scoped-{uuid.uuid4().hex[:8]}",
                                "promptTemplate": "p", "environment": {"secrets": ["SENTRY_TOKEN"]}})
    unscoped = create_standalone({"type": "standalone", "name": f"all-{uuid.uuid4().hex[:8]}", "promptTemplate": "p"})
    specs = {}
    for config in (scoped, unscoped):
        run = executions.create({
            "id": str(uuid.uuid4()), "type": "workflow-run", "state": State.RUNNING.value, "title": config.name,
            "prompt": "p", "agentType": "claude-code", "taskConfigId": config.id, "attempt": 1}, NOW)
        specs[config.id] = launch_input(run, 1)[0]
    assert set(specs[scoped.id].secrets) == {"SENTRY_TOKEN"}
    # Listing none keeps the earlier behaviour: every agent secret, never Optio's own.
    assert {"SENTRY_TOKEN", "ANTHROPIC_API_KEY"} <= set(specs[unscoped.id].secrets)
    assert "GITHUB_WEBHOOK_SECRET" not in specs[unscoped.id].secrets


def test_a_repo_tasks_agent_gets_only_the_secrets_its_repo_lists(stored_secrets: None) -> None:
    from chalicelib.exceptions import ValidationFailed
    from chalicelib.services.repos import update_repo

    secrets.put("NPM_TOKEN", "npm-for-this-repo", NOW)
    repo = register_repo({"repoUrl": f"https://github.com/acme/scoped-{uuid.uuid4().hex[:8]}",
                          "environment": {"secrets": ["NPM_TOKEN"]}})
    task = executions.create({
        "id": str(uuid.uuid4()), "state": State.PROVISIONING.value, "title": "t", "prompt": "p",
        "repoId": repo.id, "repoUrl": repo.repoUrl, "repoBranch": "main", "branchName": "optio/scoped",
        "agentType": "claude-code", "attempt": 1,
    }, NOW)
    assert set(launch_input(task, 1)[0].secrets) == {"NPM_TOKEN"}
    with pytest.raises(ValidationFailed) as refused:
        update_repo(repo.id, {"environment": {"secrets": ["NPM_TOKEN", "NOT_STORED_ANYWHERE"]}})
    assert [p.field for p in refused.value.details] == ["environment.secrets.1"]
    update_repo(repo.id, {"environment": None})
    assert {"NPM_TOKEN", "ANTHROPIC_API_KEY"} <= set(launch_input(task, 1)[0].secrets)
