"""Fault: a schedule trigger whose cron expression cannot be read (refused by the API, so stored
by an older version or by hand) is due before a good one. It never fires, and it does not keep
the good one, due in the same tick, from firing."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.support.localmode import LocalMode, start_local_mode
from tests.support.waiting import wait_for

pytestmark = pytest.mark.xdist_group("faults-malformed-cron")


@pytest.fixture(scope="module")
def prefix() -> str:
    return f"cron-{uuid.uuid4().hex[:8]}-"


@pytest.fixture(scope="module")
def cron_mode(tmp_path_factory: pytest.TempPathFactory, prefix: str) -> Iterator[LocalMode]:
    mode = start_local_mode(tmp_path_factory.mktemp("cron"), OPTIO_TABLE_PREFIX=prefix)
    yield mode
    mode.stop()


def scheduled_job(mode: LocalMode) -> tuple[dict[str, Any], dict[str, Any]]:
    job = mode.api.ok("POST", "/api/jobs", {"type": "standalone", "name": f"cron-{uuid.uuid4().hex[:8]}",
                                            "promptTemplate": "[fake:noop] report"}, status=201)
    trigger = mode.api.ok("POST", f"/api/tasks/{job['id']}/triggers",
                          {"type": "schedule", "config": {"cronExpression": "0 6 * * *"}}, status=201)
    return job, trigger


def test_malformed_cron(cron_mode: LocalMode, prefix: str) -> None:
    malformed = cron_mode.api.post("/api/tasks/x/triggers", {"type": "schedule",
                                                             "config": {"cronExpression": "61 * * * *"}})
    assert malformed.status_code in (400, 404)
    bad_job, bad = scheduled_job(cron_mode)
    good_job, good = scheduled_job(cron_mode)
    client = boto3.client("dynamodb", endpoint_url=os.environ["OPTIO_DYNAMODB_ENDPOINT"],
                          region_name=os.environ["AWS_REGION"])
    # Both due now, the unreadable one first.
    for trigger, config, due in ((bad, '{"cronExpression": "not a cron"}', "2026-01-01T00:00:00.000Z"),
                                 (good, '{"cronExpression": "0 6 * * *"}', "2026-01-01T00:00:01.000Z")):
        client.update_item(TableName=f"{prefix}triggers", Key={"id": {"S": trigger["id"]}},
                           UpdateExpression="SET config = :c, nextFireAt = :n",
                           ExpressionAttributeValues={":c": {"S": config}, ":n": {"S": due}})

    wait_for(lambda: cron_mode.api.ok("GET", f"/api/tasks/{good_job['id']}/runs")["items"], timeout_s=60,
             what="the good schedule to fire")
    assert cron_mode.api.ok("GET", f"/api/tasks/{bad_job['id']}/runs")["items"] == []
    assert "schedule trigger skipped" in cron_mode.output.read_text()
