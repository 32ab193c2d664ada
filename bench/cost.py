"""What a task costs on AWS: the control plane's consumption per task, priced (issue 18, point 6).

Runs local mode in this process (DynamoDB Local, the stream poller, the real runner and stand-in
agent) and meters, per Lambda function the work would run in on AWS:
  - DynamoDB read and write request units: pynamodb asks every call for ReturnConsumedCapacity
    (TOTAL) and DynamoDB Local answers it; each call is counted where it ran (API request, stream
    batch, schedule tick);
  - Lambda invocations and their durations, at each function's memory size in .chalice/config.json
    and arm64 (Graviton) prices: API requests (API Gateway + the API function), stream batches,
    launcher invocations (one per launch), wake-ups (the execution_timer function), schedule ticks;
  - wake-ups: each distinct one the engine sets (a `WaitUntil` or `StopAgent` decision; local mode's
    in-process timers stand in for Step Functions) is one standard workflow, ~3 state transitions,
    and one execution_timer invocation when it is due, whether the task is still running or not:
    those not due by the end of a lifecycle are fired then, as AWS would later;
  - the bytes our functions log (CloudWatch Logs ingestion);
  - Secrets Manager: each function environment reads each of Optio's keys it uses once per
    OPTIO_KEYS_MAX_AGE_S (5 minutes), whatever the traffic: a fixed monthly line, as the secrets are.
Lifecycles measured: one repo task (created -> completed, branch pushed) and one run of a
standalone task; then a task whose agent works a few seconds, for the cost of a heartbeat and of a
log line, which project "a typical task": a 10-minute run printing 1,000 log lines. Stream reads
are free when a Lambda trigger makes them; scheduled EventBridge rules are free. The schedules'
cost does not grow with tasks: it is a fixed monthly line. Prints a monthly projection for 1,000
tasks a day. Local durations on a developer's machine stand in for Lambda's.

    .venv/bin/python bench/cost.py [--tasks-per-day 1000]
"""
from __future__ import annotations

import argparse
import collections
import io
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import FAKES, free_port  # noqa: E402
from tests.support.api import Api  # noqa: E402
from tests.support.gitrepo import make_bare_repo  # noqa: E402
from tests.support.waiting import wait_for  # noqa: E402

# us-east-1 on-demand list prices, USD, as AWS published them (pricing pages last read 2025-06;
# this machine has no internet on 2026-12-02: check them before quoting these figures).
PRICES_AS_OF = "2025-06 (us-east-1, on-demand list prices, free tiers left out)"
PRICE = {
    "dynamodb_write_unit": 0.625 / 1e6,  # per write request unit (on-demand, since 2024-11-01)
    "dynamodb_read_unit": 0.125 / 1e6,  # per read request unit
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": 0.0000133334,  # arm64, the first 7.5 billion GB-seconds a month
    "api_gateway_request": 3.50 / 1e6,  # REST API, first 333 million a month
    "xray_trace": 5.00 / 1e6,  # traces recorded (the stack turns tracing on); 100,000 a month free
    "logs_gb": 0.50,  # CloudWatch Logs ingestion
    "state_transition": 0.025 / 1000,  # Step Functions standard workflows
    "secret_month": 0.40,  # Secrets Manager, per secret
    "secret_call": 0.05 / 10_000,  # GetSecretValue
}
CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text())
STAGE = "dev"
# Each function's memory as deployed (.chalice/config.json; Chalice's default 128 MB where unset).
MEMORY_GB: dict[str, float] = {name: spec.get("lambda_memory_size", 128) / 1024
             for name, spec in CONFIG["stages"][STAGE]["lambda_functions"].items()}
# A wake-up's workflow: start -> Wait (until due) -> LambdaInvoke (execution_timer) -> end
# (infra/optio_infra/stack.py, _timers).
TRANSITIONS_PER_WAKE_UP = 3
# Optio's keys each function reads (infra/optio_infra/stack.py KEYS_READ, by Chalice function name).
KEYS_READ = {"api_handler": 4, "execution_stream": 2, "resync": 2, "execution_timer": 2, "ticket_sync": 1,
             "trigger_tick": 0, "launcher": 1}
SECRETS = 4  # the API token, the run-token key, the secrets key, the setup token
# What Lambda itself logs per invocation (START, END, REPORT lines, JSON format), bytes.
PLATFORM_LOG_BYTES = 600
SCHEDULES = ("resync", "ticket_sync", "trigger_tick")
API = "api_handler"  # each rate(1 minute) on AWS
MINUTES_A_MONTH = 30 * 24 * 60
READS = {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}
BENCH_POLL = "X-Optio-Bench-Poll"  # marks the bench's own polling, left out of the counts
# A typical task for the projection: the agent's run and what it prints.
TYPICAL_RUN_S, TYPICAL_LOG_LINES = 600, 1000


@dataclass
class Usage:
    invocations: int = 0
    seconds: float = 0.0
    read_units: float = 0.0
    write_units: float = 0.0
    log_bytes: int = 0
    wake_ups: int = 0
    calls: collections.Counter[str] = field(default_factory=collections.Counter)

    def add(self, other: Usage) -> None:
        self.invocations += other.invocations
        self.seconds += other.seconds
        self.read_units += other.read_units
        self.write_units += other.write_units
        self.log_bytes += other.log_bytes
        self.wake_ups += other.wake_ups
        self.calls.update(other.calls)

    def cost(self, function: str) -> float:
        """What this usage of `function` costs; a wake-up it set costs its workflow's transitions
        (the timer function's invocation counts where it ran)."""
        return (self.write_units * PRICE["dynamodb_write_unit"] + self.read_units * PRICE["dynamodb_read_unit"]
                + self.invocations * (PRICE["lambda_request"] + PRICE["xray_trace"]
                                      + (PRICE["api_gateway_request"] if function == API else 0))
                + self.seconds * MEMORY_GB[function] * PRICE["lambda_gb_second"]
                + (self.log_bytes + self.invocations * PLATFORM_LOG_BYTES) / 1e9 * PRICE["logs_gb"]
                + self.wake_ups * TRANSITIONS_PER_WAKE_UP * PRICE["state_transition"])


class Meter:
    """Usage per (function, label); the thread's current invocation decides where a call counts."""

    def __init__(self) -> None:
        self.usage: dict[tuple[str, str], Usage] = collections.defaultdict(Usage)
        self._local = threading.local()
        self._lock = threading.Lock()
        self.pending: dict[tuple[str, str], None] = {}  # wake-ups set and not fired yet, in order
        self._fired: set[tuple[str, str]] = set()

    @contextmanager
    def invocation(self, function: str, label: str) -> Iterator[None]:
        previous = getattr(self._local, "key", None)
        self._local.key = (function, label)
        started = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                usage = self.usage[self._local.key]  # as relabelled meanwhile
                usage.invocations += 1
                usage.seconds += time.perf_counter() - started
            self._local.key = previous

    def relabel(self, label: str) -> None:
        """The invocation's label once known (an event's kind is in the request body)."""
        self._local.key = (self._local.key[0], label)

    def _current(self) -> Usage:
        key = getattr(self._local, "key", None)
        # Outside any function: the bench's own polling and local mode's setup, not counted.
        return self.usage[key] if key else Usage()

    def dynamodb(self, operation: str, consumed: Any) -> None:
        entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
        units = sum(float(e.get("CapacityUnits", 0)) for e in entries)
        with self._lock:
            usage = self._current()
            usage.calls[operation] += 1
            if operation in READS:
                usage.read_units += units
            else:
                usage.write_units += units

    def wake_up(self, execution_id: str, at: str) -> None:
        """A wake-up set: one workflow however often the same one is asked for (its name)."""
        with self._lock:
            key = (execution_id, at)
            if key in self.pending or key in self._fired:
                return
            self.pending[key] = None
            self._current().wake_ups += 1

    def fire(self, execution_id: str, at: str) -> bool:
        """Whether a wake-up is due to run: once, whether its timer or the bench fires it first."""
        with self._lock:
            key = (execution_id, at)
            if key in self._fired:
                return False
            self._fired.add(key)
            self.pending.pop(key, None)
            return True

    def logged(self, size: int) -> None:
        with self._lock:
            self._current().log_bytes += size

    def snapshot(self) -> dict[tuple[str, str], Usage]:
        with self._lock:
            copied = {}
            for key, usage in self.usage.items():
                copy = Usage()
                copy.add(usage)
                copied[key] = copy
            return copied


def since(before: dict[tuple[str, str], Usage], after: dict[tuple[str, str], Usage]) -> dict[tuple[str, str], Usage]:
    out = {}
    for key, usage in after.items():
        old = before.get(key, Usage())
        delta = Usage(usage.invocations - old.invocations, usage.seconds - old.seconds,
                      usage.read_units - old.read_units, usage.write_units - old.write_units,
                      usage.log_bytes - old.log_bytes, usage.wake_ups - old.wake_ups, usage.calls - old.calls)
        if delta.invocations or delta.read_units or delta.write_units or delta.wake_ups:
            out[key] = delta
    return out


def total(usages: dict[tuple[str, str], Usage], function: str | None = None) -> Usage:
    out = Usage()
    for (fn, _), usage in usages.items():
        if function is None or fn == function:
            out.add(usage)
    return out


def per_task_cost(usages: dict[tuple[str, str], Usage]) -> float:
    return sum(u.cost(fn) for (fn, _), u in usages.items() if fn not in SCHEDULES)


class _Stdout(io.TextIOBase):
    """What the functions print (powertools' JSON logs, EMF metrics) goes to CloudWatch Logs on
    AWS: counted against the invocation that printed it, not shown."""

    def __init__(self, meter: Meter) -> None:
        self._meter = meter

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._meter.logged(len(text.encode()))
        return len(text)


def install(meter: Meter) -> None:
    """Meters pynamodb's calls, the app's handlers and the local launcher (after the environment
    is set: importing app reads the settings)."""
    from pynamodb.connection.base import Connection

    sys.stdout = _Stdout(meter)  # before app: powertools' logger holds the stream it finds
    import app
    from chalicelib.core.timefmt import iso
    from chalicelib.launch.local import LocalLauncher
    from chalicelib.local.timers import LocalTimers

    dispatch = Connection.dispatch

    def metered_dispatch(self: Connection, operation_name: str, operation_kwargs: dict[str, Any]) -> Any:
        data = dispatch(self, operation_name, operation_kwargs)
        meter.dynamodb(operation_name, (data or {}).get("ConsumedCapacity"))
        return data

    Connection.dispatch = metered_dispatch  # type: ignore[method-assign]

    def api_invocation(request: Any, get_response: Any) -> Any:
        if request.headers.get(BENCH_POLL):
            return get_response(request)  # the bench waiting for a state: not the task's cost
        route = f"{request.method} {request.context.get('resourcePath', request.path)}"
        with meter.invocation(API, route):
            if route.endswith("/events") and request.method == "POST":
                try:
                    body = json.loads(request.raw_body or b"{}")
                except ValueError:
                    body = {}
                meter.relabel(f"{route} ({body.get('kind')}, {len(body.get('lines') or [])} lines)"
                              if body.get("kind") == "logs" else f"{route} ({body.get('kind')})")
            return get_response(request)

    app.app.register_middleware(api_invocation, "http")

    def wrap(function: str, handler: Any) -> Any:
        def invoked(event: Any, context: Any) -> Any:
            with meter.invocation(function, ""):
                return handler(event, context)
        return invoked

    app.execution_stream = wrap("execution_stream", app.execution_stream)
    timer = app.execution_timer

    def fired(event: Any, context: Any) -> Any:
        if not meter.fire(event["executionId"], event["dueAt"]):
            return {}  # the bench fired it already (fire_pending)
        with meter.invocation("execution_timer", ""):
            return timer(event, context)

    app.execution_timer = fired  # before the stack starts: its timers call what app holds then
    wake_at = LocalTimers.wake_at

    def metered_wake_at(self: LocalTimers, execution_id: str, at: Any) -> None:
        meter.wake_up(execution_id, iso(at))
        wake_at(self, execution_id, at)

    LocalTimers.wake_at = metered_wake_at  # type: ignore[method-assign]
    app.periodic_resync = wrap("resync", app.periodic_resync)
    app.trigger_tick = wrap("trigger_tick", app.trigger_tick)
    app.periodic_ticket_sync = wrap("ticket_sync", app.periodic_ticket_sync)
    launch = LocalLauncher.launch

    def metered_launch(self: LocalLauncher, spec: Any) -> None:
        # On AWS the launcher function creates the Job: one invocation, no table access.
        with meter.invocation("launcher", ""):
            launch(self, spec)

    LocalLauncher.launch = metered_launch  # type: ignore[method-assign]


def finished(api: Api, path: str, states: set[str]) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        item: dict[str, Any] = api.request("GET", path, headers={BENCH_POLL: "1"}).json()
        return item if item["state"] in states else None
    return wait_for(done, timeout_s=300, interval_s=0.5, what=f"{path} to finish")  # type: ignore[no-any-return]


def settle(meter: Meter, quiet_s: float = 2.0) -> None:
    """Until the stream and the engine are done with what the last lifecycle wrote: no API request
    or stream batch for `quiet_s` (the schedules tick on regardless)."""
    last = {"count": -1, "at": time.monotonic()}

    def quiet() -> bool:
        count = sum(u.invocations for (fn, _), u in meter.snapshot().items() if fn not in SCHEDULES)
        if count != last["count"]:
            last.update(count=count, at=time.monotonic())
        return time.monotonic() - last["at"] >= quiet_s

    wait_for(quiet, timeout_s=120, interval_s=0.25, what="the stream to go quiet")


def end_of_lifecycle(meter: Meter, timer: Any, context: Any) -> None:
    """Settles, then fires the wake-ups still waiting (on AWS each runs when due, the task long
    finished by then), and settles again."""
    settle(meter)
    for execution_id, at in list(meter.pending):
        timer({"executionId": execution_id, "dueAt": at}, context)
    settle(meter)


def wake_up_cost(usages: dict[tuple[str, str], Usage]) -> float:
    """The wake-ups' share: their workflows' transitions and the timer function's invocations."""
    transitions = sum(u.wake_ups for u in usages.values()) * TRANSITIONS_PER_WAKE_UP * PRICE["state_transition"]
    return transitions + total(usages, "execution_timer").cost("execution_timer")


def show(title: str, usages: dict[tuple[str, str], Usage]) -> None:
    print(title)
    by_function: dict[str, Usage] = collections.defaultdict(Usage)
    for (fn, _), usage in usages.items():
        by_function[fn].add(usage)
    for fn, usage in sorted(by_function.items()):
        if fn in SCHEDULES:
            continue  # ticks that happened meanwhile: a fixed monthly line, not the task's
        print(f"  {fn:16} {usage.invocations:3} invocations {usage.seconds * 1000:6.0f} ms  "
              f"RRU {usage.read_units:5.1f}  WRU {usage.write_units:5.1f}  logs {usage.log_bytes / 1024:5.1f} KiB  "
              f"wake-ups set {usage.wake_ups}  ${usage.cost(fn):.6f}")
    wake_ups = sum(u.wake_ups for u in usages.values())
    print(f"  control plane per lifecycle: ${per_task_cost(usages):.6f}; {wake_ups} wake-ups "
          f"({wake_ups * TRANSITIONS_PER_WAKE_UP} state transitions and {wake_ups} timer invocations): "
          f"${wake_up_cost(usages):.6f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks-per-day", type=int, default=1000)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="optio-bench-cost-"))
    os.environ.pop("OPTIO_DYNAMODB_ENDPOINT", None)
    for name in ("OPTIO_API_TOKEN", "OPTIO_RUN_TOKEN_SECRET", "OPTIO_SECRETS_KEY"):
        os.environ.pop(name, None)
    os.environ.update(
        OPTIO_PORT=str(free_port()), OPTIO_DATA_DIR=str(tmp / "data"),
        OPTIO_TABLE_PREFIX=f"cost-{uuid.uuid4().hex[:8]}-", OPTIO_AGENT_BIN_CLAUDE_CODE=str(FAKES / "claude"),
        OPTIO_HEARTBEAT_INTERVAL_MS="1000",  # a few heartbeats in the measured run; 30 s is the default
        AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local",
    )
    from chalicelib.local.bootstrap import prepare
    from chalicelib.local.dynamodb_local import DynamoDBLocal

    # The store first: importing app (to meter it) reads the settings, the endpoint among them.
    prepare(os.environ)
    ddb = DynamoDBLocal(ROOT / ".deps", log_path=tmp / "dynamodb.log")
    ddb.start()
    os.environ["OPTIO_DYNAMODB_ENDPOINT"] = ddb.endpoint
    meter = Meter()
    out, err = sys.stdout, sys.stderr
    # The local server's request lines and DynamoDB Local's chatter: kept, not shown.
    sys.stderr = open(tmp / "local-mode.log", "w")  # noqa: SIM115 - open for the whole run
    install(meter)
    import app
    from chalicelib.local.stack import LocalStack
    from chalicelib.local.stream_poller import LocalLambdaContext
    from chalicelib.local.ticker import scheduled_event

    stack = LocalStack()
    stack.start()
    api = Api(stack.url, stack.token)

    def lifecycle_ends() -> None:
        end_of_lifecycle(meter, app.execution_timer, LocalLambdaContext(function_name="execution_timer"))

    try:
        repo = api.ok("POST", "/api/repos", {"repoUrl": str(make_bare_repo(tmp))}, status=201)
        settle(meter)

        before = meter.snapshot()
        task = api.ok("POST", "/api/tasks", {"title": "Cost", "prompt": "one task", "repoId": repo["id"]},
                      status=201)
        done = finished(api, f"/api/tasks/{task['id']}", {"completed", "failed"})
        lifecycle_ends()
        repo_task = since(before, meter.snapshot())

        job = api.ok("POST", "/api/tasks", {"type": "standalone", "name": f"cost-{uuid.uuid4().hex[:6]}",
                                            "promptTemplate": "report"}, status=201)
        before = meter.snapshot()
        run = api.ok("POST", f"/api/tasks/{job['id']}/runs", {"params": {}}, status=202)
        finished(api, f"/api/workflow-runs/{run['runId']}", {"completed", "failed"})
        lifecycle_ends()
        standalone = since(before, meter.snapshot())

        before = meter.snapshot()
        slow = api.ok("POST", "/api/tasks", {"title": "Cost slow", "prompt": "[fake:sleep=4] a while",
                                             "repoId": repo["id"]}, status=201)
        finished(api, f"/api/tasks/{slow['id']}", {"completed", "failed"})
        lifecycle_ends()
        working = since(before, meter.snapshot())

        before = meter.snapshot()
        for name in SCHEDULES:
            handler = {"resync": "periodic_resync", "ticket_sync": "periodic_ticket_sync",
                       "trigger_tick": "trigger_tick"}[name]
            for _ in range(3):
                getattr(app, handler)(scheduled_event(name), LocalLambdaContext(function_name=name))
        ticks = since(before, meter.snapshot())
    finally:
        stack.stop()
        ddb.stop()
        sys.stdout, sys.stderr = out, err

    print(f"Cost per task on AWS, measured against DynamoDB Local on {time.strftime('%Y-%m-%d')}; "
          f"prices {PRICES_AS_OF}")
    memory = ", ".join(f"{fn} {gb * 1024:.0f}" for fn, gb in MEMORY_GB.items())
    print(f"(repo task {done['state']}; durations are this machine's; arm64, MB: {memory})")
    show("One repo task, created -> completed (stand-in agent, seconds):", repo_task)
    show("One run of a standalone task:", standalone)

    heartbeats = {k: u for k, u in working.items() if k[0] == API and "(heartbeat)" in k[1]}
    logs = {k: u for k, u in working.items() if k[0] == API and "(logs," in k[1]}
    lines = sum(int(k[1].rsplit("(logs, ", 1)[1].split(" ")[0]) * u.invocations for k, u in logs.items())
    heartbeat_count = total(heartbeats).invocations
    per_heartbeat = per_task_cost(heartbeats) / max(1, heartbeat_count)
    log_usage = total(logs)
    per_line_dynamodb = (log_usage.write_units * PRICE["dynamodb_write_unit"]) / max(1, lines)
    per_batch = per_task_cost(logs) / max(1, log_usage.invocations)
    print(f"A heartbeat: ${per_heartbeat:.7f} ({heartbeat_count} measured); a log line: "
          f"{log_usage.write_units / max(1, lines):.2f} WRU, ${per_line_dynamodb:.7f}, plus ${per_batch:.7f} "
          f"a request of up to 100 lines ({lines} lines measured)")
    typical_heartbeats = TYPICAL_RUN_S / 30  # the default interval, 30 s
    typical = (per_task_cost(repo_task) + typical_heartbeats * per_heartbeat
               + TYPICAL_LOG_LINES * per_line_dynamodb + TYPICAL_LOG_LINES / 100 * per_batch)
    print(f"A typical task ({TYPICAL_RUN_S // 60}-minute run, {TYPICAL_LOG_LINES:,} log lines, a heartbeat every "
          f"30 s): ${typical:.6f}  (goal: at most $0.002)")
    parts = {"log lines (DynamoDB writes)": TYPICAL_LOG_LINES * per_line_dynamodb,
             "log requests (API Gateway, Lambda, X-Ray)": TYPICAL_LOG_LINES / 100 * per_batch,
             "heartbeats": typical_heartbeats * per_heartbeat,
             "wake-ups (Step Functions, the timer function)": wake_up_cost(repo_task),
             "the lifecycle (create, stream, launch, start, result)": per_task_cost(repo_task) - wake_up_cost(repo_task)}
    for name, cost in sorted(parts.items(), key=lambda item: -item[1]):
        print(f"  {name:55} ${cost:.6f}  {cost / typical:5.1%}")

    schedule_month = 0.0
    for name in SCHEDULES:
        usage = total(ticks, name)
        per_tick = usage.cost(name) / max(1, usage.invocations)
        schedule_month += per_tick * MINUTES_A_MONTH
    # One warm environment per function all month (the schedules keep theirs warm; a task every
    # minute and a half keeps the others), each reading its keys every 5 minutes; a second
    # concurrent environment of a function adds its share again.
    secret_calls = sum(KEYS_READ.values()) * MINUTES_A_MONTH // 5
    secrets_month = SECRETS * PRICE["secret_month"] + secret_calls * PRICE["secret_call"]
    month_tasks = args.tasks_per_day * 30
    print(f"Monthly, {args.tasks_per_day:,} tasks a day ({month_tasks:,} tasks, 30 days):")
    print(f"  tasks:     ${typical * month_tasks:9.2f}")
    print(f"  schedules: ${schedule_month:9.2f}  (three rate(1 minute) rules, {MINUTES_A_MONTH:,} ticks each, idle)")
    print(f"  secrets:   ${secrets_month:9.2f}  ({SECRETS} secrets; {secret_calls:,} GetSecretValue calls: "
          f"one warm environment per function, each key once per 5 minutes)")
    monthly = typical * month_tasks + schedule_month + secrets_month
    print(f"  total:     ${monthly:9.2f}  control plane; the EKS cluster, its nodes and the agents' model usage aside")
    print(json.dumps({"per_task_usd": round(typical, 7), "monthly_usd": round(monthly, 2)}))


if __name__ == "__main__":
    main()
