"""Moves what the version before kept in its own tables into this version's executions tables.

That version kept repo tasks in `<prefix>tasks` (events in `<prefix>task-events`, logs in
`<prefix>task-logs`) and runs of standalone tasks in `<prefix>workflow-runs` (no events; their logs
in `<prefix>task-logs` too). This version keeps both kinds in `<prefix>executions`, with
`<prefix>execution-events` and `<prefix>execution-logs`; the counters table is unchanged.

`migrate()` copies every legacy row through the store's import functions, then drops the legacy
tables. Every write is idempotent (a log line or an event is keyed by its number, an execution is
written only when absent), and each execution row is written after its events and log lines, so
a migration interrupted anywhere is finished by running it again. Local mode runs it on start
(`local.stack`); on AWS an operator runs this module once after deploying (README "Upgrading"):

    OPTIO_TABLE_PREFIX=optio-prod- AWS_REGION=eu-west-1 python -m chalicelib.services.legacy [--keep]
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

from pynamodb.models import Model

from chalicelib.core.dispatch import scope_slots_key
from chalicelib.core.states import ExecutionKind, State
from chalicelib.observability import logger
from chalicelib.settings import settings
from chalicelib.store import configs, executions, logs
from chalicelib.store.connection import connection
from chalicelib.store.models import ExecutionEventModel, ExecutionLogModel, ExecutionModel, TaskConfigModel

TASKS, TASK_EVENTS, TASK_LOGS, WORKFLOW_RUNS = "tasks", "task-events", "task-logs", "workflow-runs"
# Dropped in this order once everything is copied.
LEGACY_TABLES = (TASK_LOGS, TASK_EVENTS, TASKS, WORKFLOW_RUNS)

STANDALONE_RUN_TITLE = "Standalone run"
DEFAULT_AGENT = "claude-code"
MIGRATION_TRIGGER = "migration"

RawItem = dict[str, dict[str, Any]]
# Attributes of a run that this version names differently (old name: new name).
RUN_RENAMES = {"output": "resultSummary", "finishedAt": "completedAt"}


def table_name(short: str) -> str:
    return f"{settings.table_prefix}{short}"


def _client() -> Any:
    return connection().client


def _exists(client: Any, table: str) -> bool:
    try:
        client.describe_table(TableName=table)
    except client.exceptions.ResourceNotFoundException:
        return False
    return True


def legacy_tables() -> list[str]:
    """The legacy tables that still exist, by short name."""
    client = _client()
    return [short for short in LEGACY_TABLES if _exists(client, table_name(short))]


def pending() -> bool:
    """Whether any legacy table is still there: a migration that has not run, or did not finish."""
    return bool(legacy_tables())


def _scan(client: Any, table: str) -> Iterator[RawItem]:
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        yield from page.get("Items", [])
        if not page.get("LastEvaluatedKey"):
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _renamed(item: RawItem, **names: str) -> RawItem:
    """The raw item with attributes renamed (old name=new name); absent ones stay absent."""
    out = dict(item)
    for old, new in names.items():
        if old in out:
            out[new] = out.pop(old)
    return out


def _unknown(item: RawItem, model: type[Model], *handled: str) -> set[str]:
    """Attributes of a legacy item that the model has no place for (none in the data of the
    version before): logged, so that nothing is left behind unnoticed."""
    known = {attribute.attr_name for attribute in model.get_attributes().values()}
    return set(item) - known - set(handled)


def _string(item: RawItem, name: str) -> str | None:
    value = item.get(name)
    return str(value["S"]) if value and "S" in value else None


def task_row(item: RawItem) -> ExecutionModel:
    """A row of the legacy tasks table as this version's execution row."""
    slot_repo = _string(item, "slotRepoId")
    row = ExecutionModel.from_raw_data(_renamed(item))
    row.type = ExecutionKind.REPO_TASK.value
    row.slotScope = scope_slots_key(ExecutionKind.REPO_TASK, slot_repo) if slot_repo else None
    return row


def run_row(item: RawItem, config: TaskConfigModel | None) -> ExecutionModel:
    """A row of the legacy workflow-runs table as this version's execution row: `output` is now
    `resultSummary`, `finishedAt` `completedAt`; the title and agent come from its standalone task."""
    row = ExecutionModel.from_raw_data(_renamed(item, **RUN_RENAMES))
    row.type = ExecutionKind.RUN.value
    row.title = config.name if config is not None and config.name else STANDALONE_RUN_TITLE
    row.agentType = (config.agentRuntime if config is not None else None) or DEFAULT_AGENT
    # A run holds its standalone task's slot exactly while running (the counters are unchanged).
    running = row.state == State.RUNNING.value and row.taskConfigId
    row.slotScope = scope_slots_key(ExecutionKind.RUN, str(row.taskConfigId)) if running else None
    return row


def run_events(row: ExecutionModel) -> list[ExecutionEventModel]:
    """The legacy version recorded no events for runs: its creation, and where the migration found
    it (at its current version, so the next transition's event follows it)."""
    trigger = row.trigger if isinstance(row.trigger, dict) else {}
    version = int(row.version or 0)
    created = ExecutionEventModel(
        executionId=row.id, eventKey=executions.event_key(0), toState=State.QUEUED.value,
        trigger=str(trigger.get("type") or "api"), message="workflow run created", at=row.createdAt,
    )
    found = ExecutionEventModel(
        executionId=row.id, eventKey=executions.event_key(version), fromState=None,
        toState=row.state, trigger=MIGRATION_TRIGGER, at=row.updatedAt,
        message=f"migrated from {table_name(WORKFLOW_RUNS)} in state {row.state}: "
                "the transitions before were not recorded",
    )
    if version == 0:  # never moved since it was created
        return [created] if row.state == State.QUEUED.value else [found]
    return [created, found]


class _Configs:
    """Standalone tasks by id, each read once."""

    def __init__(self) -> None:
        self._seen: dict[str, TaskConfigModel | None] = {}

    def get(self, config_id: str | None) -> TaskConfigModel | None:
        if not config_id:
            return None
        if config_id not in self._seen:
            self._seen[config_id] = configs.find(config_id)
        return self._seen[config_id]


def migrate(drop: bool = True) -> dict[str, int]:
    """Copy every legacy table into the executions tables; then, when `drop`, drop the legacy
    tables. Safe to run again at any point: what is there already is left as it is."""
    client = _client()
    present = legacy_tables()
    counts = {"tasks": 0, "runs": 0, "alreadyPresent": 0, "events": 0, "runEventsAdded": 0,
              "logLines": 0, "tablesDropped": 0}
    left_behind: set[str] = set()
    # Log lines and events first: an execution that is here has all of its history.
    history: list[tuple[str, str, Callable[[dict[str, Any]], None], type[Model]]] = [
        (TASK_LOGS, "logLines", lambda raw: logs.import_line(ExecutionLogModel.from_raw_data(raw)), ExecutionLogModel),
        (TASK_EVENTS, "events", lambda raw: executions.import_event(ExecutionEventModel.from_raw_data(raw)),
         ExecutionEventModel),
    ]
    for short, counted, write, model in history:
        if short not in present:
            continue
        for item in _scan(client, table_name(short)):
            raw = _renamed(item, taskId="executionId")
            left_behind |= _unknown(raw, model)
            write(raw)
            counts[counted] += 1
    if TASKS in present:
        for item in _scan(client, table_name(TASKS)):
            left_behind |= _unknown(item, ExecutionModel, "slotRepoId")
            imported = executions.import_row(task_row(item))
            counts["tasks" if imported else "alreadyPresent"] += 1
    if WORKFLOW_RUNS in present:
        configs = _Configs()
        for item in _scan(client, table_name(WORKFLOW_RUNS)):
            left_behind |= _unknown(item, ExecutionModel, *RUN_RENAMES)
            row = run_row(item, configs.get(_string(item, "taskConfigId")))
            for event in run_events(row):
                executions.import_event(event)
                counts["runEventsAdded"] += 1
            imported = executions.import_row(row)
            counts["runs" if imported else "alreadyPresent"] += 1
    if left_behind:
        logger.warning("legacy.attributes_left_behind", extra={"attributes": sorted(left_behind)})
    if drop:
        for short in present:
            _drop(client, table_name(short))
            counts["tablesDropped"] += 1
    logger.info("legacy.migrated", extra={"tablePrefix": settings.table_prefix, "legacyTables": present,
                                          "dropped": drop, **counts})
    return counts


def _drop(client: Any, table: str) -> None:
    """Deletes the table, first lifting the deletion protection prod tables are created with."""
    described = client.describe_table(TableName=table)["Table"]
    if described.get("DeletionProtectionEnabled"):
        client.update_table(TableName=table, DeletionProtectionEnabled=False)
        client.get_waiter("table_exists").wait(TableName=table)
    client.delete_table(TableName=table)
    client.get_waiter("table_not_exists").wait(TableName=table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chalicelib.services.legacy",
        description="Copy the tasks, task-events, task-logs and workflow-runs tables of the version "
                    "before into the executions tables of OPTIO_TABLE_PREFIX (in AWS_REGION), then "
                    "drop them. Safe to run again.")
    parser.add_argument("--keep", action="store_true", help="keep the legacy tables after copying them")
    args = parser.parse_args(argv)
    missing = [model.Meta.table_name for model in (ExecutionModel, ExecutionEventModel, ExecutionLogModel)
               if not model.exists()]
    if missing:
        print(f"{parser.prog}: {', '.join(missing)} not found in {settings.region}: deploy this version "
              "first, and check OPTIO_TABLE_PREFIX and AWS_REGION", file=sys.stderr)
        return 2
    if not pending():
        print(f"{parser.prog}: no legacy tables under the prefix {settings.table_prefix!r}: nothing to do",
              file=sys.stderr)
    counts = migrate(drop=not args.keep)
    print(json.dumps(counts, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
