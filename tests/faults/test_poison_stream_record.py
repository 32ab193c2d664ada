"""Fault: a stream record its handler can never get through. Here the task's repository row was
written without `maxTurnsCoding` (as by an older version of Optio), so launching its task raises
on every delivery. The record is reported in `batchItemFailures` and tried again a few times, the
records behind it are handled (another repo's task completes), and then the task fails as
`internal_error`, not retried, so nothing keeps failing and the shard moves on."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.support.gitrepo import make_bare_repo
from tests.support.localmode import LocalMode, start_local_mode

pytestmark = pytest.mark.xdist_group("faults-poison-record")


@pytest.fixture(scope="module")
def prefix() -> str:
    return f"poison-{uuid.uuid4().hex[:8]}-"


@pytest.fixture(scope="module")
def poison_mode(tmp_path_factory: pytest.TempPathFactory, prefix: str) -> Iterator[LocalMode]:
    mode = start_local_mode(tmp_path_factory.mktemp("poison"), OPTIO_TABLE_PREFIX=prefix)
    yield mode
    mode.stop()


def test_a_poison_stream_record(poison_mode: LocalMode, prefix: str, tmp_path: Path) -> None:
    api = poison_mode.api
    broken = api.ok("POST", "/api/repos", {"repoUrl": str(make_bare_repo(tmp_path, "broken.git"))}, status=201)
    healthy = api.ok("POST", "/api/repos", {"repoUrl": str(make_bare_repo(tmp_path, "healthy.git"))}, status=201)
    # The row as an older Optio wrote it: without a setting this one reads.
    boto3.client("dynamodb", endpoint_url=os.environ["OPTIO_DYNAMODB_ENDPOINT"],
                 region_name=os.environ["AWS_REGION"]).update_item(
        TableName=f"{prefix}repos", Key={"id": {"S": broken["id"]}}, UpdateExpression="REMOVE maxTurnsCoding")

    poisoned = api.ok("POST", "/api/tasks", {"title": "Poisoned", "prompt": "write", "repoId": broken["id"]},
                      status=201)
    fine = api.ok("POST", "/api/tasks", {"title": "Fine", "prompt": "write", "repoId": healthy["id"]}, status=201)

    assert api.wait_state(fine["id"], "completed", timeout_s=90)["state"] == "completed"
    failed = api.wait_state(poisoned["id"], {"failed", "completed"}, timeout_s=90)
    assert (failed["state"], failed["errorKind"]) == ("failed", "internal_error"), failed
    assert "TypeError" in failed["errorMessage"]
    # Not retried: a retry would meet the same row.
    events = api.ok("GET", f"/api/tasks/{poisoned['id']}/events")["items"]
    assert [e["to"] for e in events] == ["pending", "queued", "provisioning", "failed"]
    assert [r for r in poison_mode.agent_runs() if poisoned["id"] in str(r["cwd"])] == []
    log = poison_mode.output.read_text()
    assert "stream records will be retried" in log and "stream records dropped after retries" not in log
