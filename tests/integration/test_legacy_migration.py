"""Upgrading keeps everything: data written by the version with separate `tasks` and
`workflow-runs` tables (`tests/fixtures/data-v1`, described row by row by its `manifest.json`)
moves into the executions tables on local mode's first start, and a migration interrupted anywhere
finishes when it is run again (`chalicelib.services.legacy`)."""
from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer  # type: ignore[import-untyped, unused-ignore]

from chalicelib.local.dynamodb_local import DynamoDBLocal
from tests.conftest import REPO_ROOT
from tests.support.api import Api
from tests.support.localmode import start_local_mode
from tests.support.waiting import wait_for

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "data-v1"
MANIFEST: dict[str, Any] = json.loads((FIXTURE / "manifest.json").read_text())
PREFIX = MANIFEST["tablePrefix"]
LEGACY = ("tasks", "task-events", "task-logs", "workflow-runs")
NEW = ("executions", "execution-events", "execution-logs")
# Copied as they are, never written by the migration.
UNTOUCHED = ("counters", "repos", "task-configs", "keys")
# Index attributes each version computes for itself.
INDEX_ATTRIBUTES = {"queuePartition", "queueSort", "activePartition"}
RUN_RENAMES = {"output": "resultSummary", "finishedAt": "completedAt"}
CONFIG_NAME = MANIFEST["taskConfigs"][0]["name"]
EXECUTIONS: dict[str, Any] = MANIFEST["executions"]
TASK_IDS = sorted(i for i, e in EXECUTIONS.items() if e["kind"] == "repo-task")
RUN_IDS = sorted(i for i, e in EXECUTIONS.items() if e["kind"] == "workflow-run")
LOCAL_ENV = {
    "OPTIO_TABLE_PREFIX": PREFIX,
    # Nothing starts: the migrated queued executions stay as the manifest has them.
    "OPTIO_MAX_CONCURRENT": "0",
    "OPTIO_MAX_WORKFLOW_CONCURRENT": "0",
}

_deserializer = TypeDeserializer()


def plain(item: dict[str, Any]) -> dict[str, Any]:
    """A raw DynamoDB item as JSON values (numbers as int or float)."""
    def value(v: Any) -> Any:
        if isinstance(v, Decimal):
            return int(v) if v == v.to_integral_value() else float(v)
        if isinstance(v, dict):
            return {k: value(x) for k, x in v.items()}
        if isinstance(v, list):
            return [value(x) for x in v]
        return v
    return {k: value(_deserializer.deserialize(v)) for k, v in item.items()}


def scan(client: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@dataclass(frozen=True)
class V1:
    """The fixture's legacy and untouched tables, raw, and how the legacy tables are keyed."""

    raw: dict[str, list[dict[str, Any]]]
    schemas: dict[str, dict[str, Any]]

    def rows(self, table: str) -> list[dict[str, Any]]:
        return [plain(item) for item in self.raw[table]]

    def row(self, table: str, execution_id: str) -> dict[str, Any]:
        return next(r for r in self.rows(table) if r["id"] == execution_id)

    def task_events(self, task_id: str) -> list[dict[str, Any]]:
        events = sorted((e for e in self.rows("task-events") if e["taskId"] == task_id), key=lambda e: e["eventKey"])
        return [{"from": e.get("fromState"), "to": e["toState"], "trigger": e["trigger"], "message": e.get("message"),
                 "at": e["at"]} for e in events]


@pytest.fixture(scope="module")
def v1(tmp_path_factory: pytest.TempPathFactory) -> V1:
    """The fixture read with the low-level client, from a copy (DynamoDB Local writes to its files)."""
    tmp = tmp_path_factory.mktemp("data-v1-read")
    shutil.copytree(FIXTURE / "dynamodb", tmp / "dynamodb")
    with DynamoDBLocal(REPO_ROOT / ".deps", db_path=tmp / "dynamodb", log_path=tmp / "dynamodb.log") as ddb:
        client = ddb.client()
        raw = {short: scan(client, PREFIX + short) for short in LEGACY + UNTOUCHED}
        schemas = {}
        for short in LEGACY:
            table = client.describe_table(TableName=PREFIX + short)["Table"]
            schemas[short] = {"KeySchema": table["KeySchema"], "AttributeDefinitions": [
                a for a in table["AttributeDefinitions"]
                if a["AttributeName"] in {k["AttributeName"] for k in table["KeySchema"]}]}
    for short in LEGACY + UNTOUCHED:
        assert len(raw[short]) == MANIFEST["tables"][PREFIX + short]["itemCount"], short
    return V1(raw, schemas)


def expected_run_events(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The legacy version recorded no events for runs: the migration adds their creation and
    where it found them."""
    created = {"from": None, "to": "queued", "trigger": "api", "message": "workflow run created",
               "at": run["createdAt"]}
    if run["state"] == "queued":
        return [created]
    return [created, {"from": None, "to": run["state"], "trigger": "migration",
                      "message": f"migrated from {PREFIX}workflow-runs in state {run['state']}: "
                                 "the transitions before were not recorded",
                      "at": run["updatedAt"]}]


def expected_logs(execution_id: str) -> list[dict[str, Any]]:
    return [{"seq": line["seq"], "attempt": line["attempt"], "type": line["logType"], "content": line["content"],
             "at": line["at"]} for line in EXECUTIONS[execution_id]["logs"]]


# ---- local mode on a v1 data directory --------------------------------------------------------


def api_view(api: Api) -> dict[str, Any]:
    """Every execution of the manifest as the API shows it."""
    seen: dict[str, Any] = {}
    for task_id in TASK_IDS:
        seen[task_id] = {"row": api.task(task_id), "events": api.ok("GET", f"/api/tasks/{task_id}/events")["items"],
                         "logs": api.logs(task_id)}
        assert api.get(f"/api/workflow-runs/{task_id}").status_code == 404
    for run_id in RUN_IDS:
        seen[run_id] = {"row": api.ok("GET", f"/api/workflow-runs/{run_id}"),
                        "events": api.ok("GET", f"/api/workflow-runs/{run_id}/events")["items"],
                        "logs": api.ok("GET", f"/api/workflow-runs/{run_id}/logs?after=0&limit=200")["items"]}
        assert api.get(f"/api/tasks/{run_id}").status_code == 404
    return seen


def check_api_view(seen: dict[str, Any], v1: V1) -> None:
    for execution_id, expected in EXECUTIONS.items():
        row, fields = seen[execution_id]["row"], expected["fields"]
        assert row["id"] == execution_id
        assert row["type"] == expected["kind"] == fields["type"]
        assert row["state"] == expected["state"]
        assert row["attempt"] == expected["attempt"]
        for name in ("prompt", "costUsd", "errorKind", "errorMessage", "createdAt", "updatedAt"):
            assert row[name] == fields[name], (execution_id, name)
        assert seen[execution_id]["logs"] == expected_logs(execution_id)
        events = seen[execution_id]["events"]
        if expected["kind"] == "repo-task":
            for name in ("title", "resultSummary", "repoId", "prUrl", "version"):
                assert row[name] == fields[name], (execution_id, name)
            assert [e["to"] for e in events] == expected["eventStates"]
            assert events == v1.task_events(execution_id)
        else:
            assert row["output"] == fields["output"]
            assert row["retryable"] == fields["retryable"]
            assert row["taskConfigId"] == fields["taskConfigId"]
            assert row["finishedAt"] == v1.row("workflow-runs", execution_id).get("finishedAt")
            assert events == expected_run_events({**fields, "state": expected["state"]})


@pytest.mark.xdist_group("legacy-migration")
def test_local_mode_migrates_a_v1_data_directory_once_and_keeps_everything(tmp_path: Path, v1: V1) -> None:
    data = tmp_path / "data"
    shutil.copytree(FIXTURE / "dynamodb", data / "dynamodb")
    mode = start_local_mode(tmp_path, shared_store=False, **LOCAL_ENV)
    try:
        first = api_view(mode.api)
        check_api_view(first, v1)
        migrated = [json.loads(line) for line in mode.output.read_text().splitlines() if '"legacy.migrated"' in line]
        assert len(migrated) == 1
        assert {k: migrated[0][k] for k in ("tasks", "runs", "alreadyPresent", "events", "runEventsAdded",
                                             "logLines", "tablesDropped")} == {
            "tasks": 3, "runs": 3, "alreadyPresent": 0, "events": 13, "runEventsAdded": 5, "logLines": 10,
            "tablesDropped": 4}
    finally:
        assert mode.stop() == 0

    with DynamoDBLocal(REPO_ROOT / ".deps", db_path=data / "dynamodb", log_path=tmp_path / "dynamodb.log") as ddb:
        client = ddb.client()
        tables = set(client.list_tables()["TableNames"])
        assert not tables & {PREFIX + short for short in LEGACY}
        assert {PREFIX + short for short in NEW} <= tables
        counters = {r["key"]: r["value"] for r in map(plain, scan(client, PREFIX + "counters"))}
        assert counters == MANIFEST["counters"]
        for short in UNTOUCHED:
            key = "key" if short in ("counters", "keys") else "id"
            assert sorted(map(plain, scan(client, PREFIX + short)), key=lambda r: r[key]) == \
                sorted(v1.rows(short), key=lambda r: r[key]), short
        rows = {r["id"]: r for r in map(plain, scan(client, PREFIX + "executions"))}
        assert set(rows) == set(EXECUTIONS)
        for task_id in TASK_IDS:
            check_task_row(rows[task_id], v1.row("tasks", task_id))
        for run_id in RUN_IDS:
            check_run_row(rows[run_id], v1.row("workflow-runs", run_id))

    # A second start migrates nothing and loses nothing, and carries on with what was migrated:
    # the queued run starts and finishes (the stand-in agent), its events following the one the
    # migration wrote; repo tasks still start nothing.
    again = start_local_mode(tmp_path, shared_store=False, **{**LOCAL_ENV, "OPTIO_MAX_WORKFLOW_CONCURRENT": "1"})
    try:
        path = "/api/workflow-runs/run-v1-queued"

        def finished() -> dict[str, Any] | None:
            run: dict[str, Any] = again.api.ok("GET", path)
            return run if run["state"] in ("completed", "failed") else None

        run = wait_for(finished, timeout_s=60, interval_s=0.1, what="the migrated queued run to finish")
        assert (run["state"], run["attempt"]) == ("completed", 1), run
        events = again.api.ok("GET", f"{path}/events")["items"]
        assert events[0] == first["run-v1-queued"]["events"][0]
        assert [e["to"] for e in events] == ["queued", "running", "completed"]
        second = api_view(again.api)
        del second["run-v1-queued"], first["run-v1-queued"]
        assert second == first
    finally:
        assert again.stop() == 0
    # The output file is appended to: still the first start's line only.
    assert mode.output.read_text().count('"legacy.migrated"') == 1


def check_task_row(row: dict[str, Any], old: dict[str, Any]) -> None:
    """Every attribute the legacy row had, under its name; the slot as this version keys it."""
    for name, value in old.items():
        if name not in INDEX_ATTRIBUTES | {"slotRepoId"}:
            assert row.get(name) == value, (old["id"], name)
    assert "slotRepoId" not in row
    assert row.get("slotScope") == (f"slots#repo#{old['slotRepoId']}" if old.get("slotRepoId") else None)
    assert row.get("queuePartition") == ("queued#repo-task" if old["state"] == "queued" else None)


def check_run_row(row: dict[str, Any], old: dict[str, Any]) -> None:
    for name, value in old.items():
        if name not in INDEX_ATTRIBUTES:
            assert row.get(RUN_RENAMES.get(name, name)) == value, (old["id"], name)
    assert not set(RUN_RENAMES) & set(row)
    assert row["type"] == "workflow-run"
    assert row["title"] == CONFIG_NAME
    assert row["agentType"] == "claude-code"
    assert row.get("slotScope") == (f"slots#workflow#config#{old['taskConfigId']}" if old["state"] == "running"
                                    else None)
    assert row.get("queuePartition") == ("queued#workflow-run" if old["state"] == "queued" else None)


# ---- the migration itself, interrupted ---------------------------------------------------------


@dataclass(frozen=True)
class Loaded:
    """The fixture's legacy tables under this process's table prefix, with every id suffixed so
    that the rows cannot meet another test's."""

    ids: dict[str, str]

    def old(self, new_id: str) -> str:
        return next(old for old, new in self.ids.items() if new == new_id)


def _suffixed(item: dict[str, Any], ids: dict[str, str], *names: str) -> dict[str, Any]:
    out = dict(item)
    for name in names:
        if name in out and out[name].get("S") in ids:
            out[name] = {"S": ids[out[name]["S"]]}
    return out


@pytest.fixture()
def loaded(v1: V1) -> Iterator[Loaded]:
    from chalicelib.settings import settings
    from chalicelib.store.connection import connection
    from chalicelib.store.models import (
        ExecutionEventModel,
        ExecutionLogModel,
        ExecutionModel,
        TaskConfigModel,
    )
    from chalicelib.store.tables import create_all

    create_all()
    suffix = "-" + uuid.uuid4().hex[:8]
    ids = {old: old + suffix for old in EXECUTIONS} | {c["id"]: c["id"] + suffix for c in MANIFEST["taskConfigs"]}
    client = connection().client
    for short in LEGACY:
        client.create_table(TableName=settings.table_prefix + short, BillingMode="PAY_PER_REQUEST",
                            **v1.schemas[short])
        for item in v1.raw[short]:
            client.put_item(TableName=settings.table_prefix + short,
                            Item=_suffixed(item, ids, "id", "taskId", "taskConfigId"))
    for item in v1.raw["task-configs"]:
        client.put_item(TableName=TaskConfigModel.Meta.table_name, Item=_suffixed(item, ids, "id"))
    try:
        yield Loaded(ids)
    finally:
        for short in LEGACY:
            try:
                client.delete_table(TableName=settings.table_prefix + short)
            except client.exceptions.ResourceNotFoundException:
                pass
        for old, new in ids.items():
            if old in EXECUTIONS:
                for line in ExecutionLogModel.query(new):
                    line.delete()
                for event in ExecutionEventModel.query(new):
                    event.delete()
                ExecutionModel(new).delete()
            else:
                TaskConfigModel(new).delete()


def store_view(loaded: Loaded) -> dict[str, Any]:
    from chalicelib.store import executions, logs

    seen = {}
    for new in loaded.ids.values():
        if loaded.old(new) not in EXECUTIONS:
            continue
        row = executions.get(new)
        seen[new] = {
            "row": {name: getattr(row, name) for name in row.get_attributes()},
            "events": [{"from": e.fromState, "to": e.toState, "trigger": e.trigger, "message": e.message,
                        "at": e.at} for e in executions.events(new)],
            "logs": [{"seq": int(x.seq), "attempt": int(x.attempt), "type": x.logType, "content": x.content,
                      "at": x.at} for x in logs.after(new, 0, 1000)],
        }
    return seen


def check_store_view(seen: dict[str, Any], loaded: Loaded, v1: V1) -> None:
    assert len(seen) == len(EXECUTIONS)
    for new, got in seen.items():
        old = loaded.old(new)
        expected, row = EXECUTIONS[old], got["row"]
        assert (row["type"], row["state"], row["attempt"]) == (expected["kind"], expected["state"],
                                                               expected["attempt"])
        for name, value in expected["fields"].items():
            if name in ("type", "title", "output", "resultSummary", "taskConfigId"):
                continue
            assert row[name] == value, (old, name)
        assert got["logs"] == expected_logs(old)
        if expected["kind"] == "repo-task":
            assert (row["title"], row["resultSummary"]) == (expected["fields"]["title"],
                                                            expected["fields"]["resultSummary"])
            assert got["events"] == v1.task_events(old)
        else:
            assert row["resultSummary"] == expected["fields"]["output"]
            assert row["taskConfigId"] == loaded.ids[expected["fields"]["taskConfigId"]]
            assert row["title"] == CONFIG_NAME
            run = {**expected["fields"], "state": expected["state"]}
            assert got["events"] == [
                {**e, "message": e["message"].replace(PREFIX, _prefix())} for e in expected_run_events(run)]


def _prefix() -> str:
    from chalicelib.settings import settings

    return settings.table_prefix


@pytest.mark.xdist_group("in-process")
def test_an_interrupted_migration_finishes_when_run_again(loaded: Loaded, v1: V1,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.services import legacy
    from chalicelib.store import executions

    assert legacy.pending() and legacy.legacy_tables() == list(legacy.LEGACY_TABLES)
    # Interrupted while writing the rows: log lines and events are in, two of the tasks.
    import_row, imported = executions.import_row, list[str]()

    def interrupted_import(row: Any) -> bool:
        if len(imported) == 2:
            raise RuntimeError("interrupted")
        imported.append(row.id)
        return import_row(row)

    monkeypatch.setattr(executions, "import_row", interrupted_import)
    with pytest.raises(RuntimeError, match="interrupted"):
        legacy.migrate()
    monkeypatch.undo()
    assert legacy.legacy_tables() == list(legacy.LEGACY_TABLES)

    assert legacy.migrate(drop=False) == {
        "tasks": 1, "runs": 3, "alreadyPresent": 2, "events": 13, "runEventsAdded": 5, "logLines": 10,
        "tablesDropped": 0}
    assert legacy.legacy_tables() == list(legacy.LEGACY_TABLES)
    copied = store_view(loaded)
    check_store_view(copied, loaded, v1)

    # Interrupted while dropping the legacy tables, after the first.
    drop, dropped = legacy._drop, list[str]()

    def interrupted_drop(client: Any, table: str) -> None:
        if dropped:
            raise RuntimeError("interrupted")
        drop(client, table)
        dropped.append(table)

    monkeypatch.setattr(legacy, "_drop", interrupted_drop)
    with pytest.raises(RuntimeError, match="interrupted"):
        legacy.migrate()
    monkeypatch.undo()
    assert len(legacy.legacy_tables()) == 3

    assert dropped == [f"{_prefix()}task-logs"]
    assert legacy.migrate() == {
        "tasks": 0, "runs": 0, "alreadyPresent": 6, "events": 13, "runEventsAdded": 5, "logLines": 0,
        "tablesDropped": 3}
    assert not legacy.pending()
    assert store_view(loaded) == copied
    assert legacy.migrate() == {"tasks": 0, "runs": 0, "alreadyPresent": 0, "events": 0, "runEventsAdded": 0,
                                "logLines": 0, "tablesDropped": 0}


@pytest.mark.xdist_group("in-process")
def test_the_operators_command_keeps_the_legacy_tables_with_keep(loaded: Loaded,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from chalicelib.services import legacy

    def counts(out: str) -> dict[str, int]:
        return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]

    assert legacy.main(["--keep"]) == 0
    assert counts(capsys.readouterr().out) == {
        "tasks": 3, "runs": 3, "alreadyPresent": 0, "events": 13, "runEventsAdded": 5, "logLines": 10,
        "tablesDropped": 0}
    assert legacy.legacy_tables() == list(legacy.LEGACY_TABLES)
    assert legacy.main([]) == 0
    assert counts(capsys.readouterr().out)["tablesDropped"] == 4
    assert not legacy.pending()
    assert legacy.main([]) == 0
    captured = capsys.readouterr()
    assert "nothing to do" in captured.err
    assert counts(captured.out)["alreadyPresent"] == 0


def test_rows_holding_a_slot_keep_it_under_this_versions_key() -> None:
    """The fixture has no execution holding a slot, nor a run whose standalone task is gone."""
    from chalicelib.services import legacy

    def raw(**fields: Any) -> dict[str, Any]:
        return {k: {"N": str(v)} if isinstance(v, int) else {"S": v} for k, v in fields.items()}

    at = "2026-11-30T09:00:00.000Z"
    task = legacy.task_row(raw(id="t", type="repo-task", state="running", title="T", prompt="p", repoId="r",
                               repoUrl="u", repoBranch="main", branchName="b", agentType="codex", version=4,
                               attempt=1, slotRepoId="r", createdAt=at, updatedAt=at, queuePartition="old"))
    assert (task.slotScope, task.agentType, task.version) == ("slots#repo#r", "codex", 4)
    run = legacy.run_row(raw(id="w", type="workflow-run", state="running", taskConfigId="gone", prompt="p",
                             version=2, attempt=1, createdAt=at, updatedAt="2026-11-30T09:05:00.000Z",
                             trigger='{"type": "schedule"}'), None)
    assert (run.slotScope, run.title, run.agentType) == ("slots#workflow#config#gone", "Standalone run",
                                                         "claude-code")
    events = legacy.run_events(run)
    assert [(e.eventKey, e.toState, e.trigger, e.at) for e in events] == [
        ("0000000000", "queued", "schedule", at), ("0000000002", "running", "migration", "2026-11-30T09:05:00.000Z")]
    assert not any(e.fromState for e in events)
