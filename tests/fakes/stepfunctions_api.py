"""A loopback stand-in for AWS Step Functions' API (AWS JSON 1.0: `POST /` with
`X-Amz-Target: AWSStepFunctions.<Operation>`), enough for boto3's `start_execution` and
`describe_execution`, running standard workflows of the Amazon States Language states the
deployment uses: `Wait` (`Timestamp`, `TimestampPath`, `Seconds`, `SecondsPath`), `Task` on a
Lambda function (its ARN as the resource: the state's input is the payload), `Pass`, `Succeed`.

As Step Functions does for a standard workflow, a second StartExecution of a name already used
answers with the first execution when the input is the same and it is still running, and
ExecutionAlreadyExists otherwise."""
from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

from jsonpath_ng import parse as jsonpath

from .loopback import Loopback

Invoke = Callable[[str, Any], Any]  # (function name, payload) -> its result


@dataclass
class Execution:
    arn: str
    machine: str
    name: str
    input: str
    started: datetime
    status: str = "RUNNING"
    # When each Task state called its function, and with what.
    calls: list[tuple[datetime, str, Any]] = field(default_factory=list)
    output: Any = None
    error: str | None = None
    stopped: datetime | None = None


class StepFunctionsError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class FakeStepFunctions:
    machines: dict[str, dict[str, Any]]  # state machine ARN -> its definition
    invoke: Invoke
    executions: dict[str, Execution] = field(default_factory=dict)
    url: str = ""
    _loopback: Loopback | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> FakeStepFunctions:
        self._loopback = Loopback(_handler(self))
        self.url = self._loopback.url
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._loopback is not None:
            self._loopback.stop()

    def of(self, machine: str) -> list[Execution]:
        with self._lock:
            return [e for e in self.executions.values() if e.machine == machine]

    # --- the operations -------------------------------------------------------------------------

    def call(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        if operation == "StartExecution":
            return self.start_execution(request)
        if operation == "DescribeExecution":
            return self.describe_execution(request)
        raise StepFunctionsError("UnknownOperationException", f"{operation} is not supported here")

    def start_execution(self, request: dict[str, Any]) -> dict[str, Any]:
        machine = request["stateMachineArn"]
        if machine not in self.machines:
            raise StepFunctionsError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{machine}'")
        name = request.get("name") or str(uuid.uuid4())
        given = request.get("input", "{}")
        arn = machine.replace(":stateMachine:", ":execution:") + f":{name}"
        with self._lock:
            existing = self.executions.get(arn)
            if existing is not None:
                if existing.status == "RUNNING" and existing.input == given:
                    return {"executionArn": arn, "startDate": existing.started.timestamp()}
                raise StepFunctionsError("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
            execution = Execution(arn, machine, name, given, datetime.now(UTC))
            self.executions[arn] = execution
        threading.Thread(target=self._run, args=(execution,), name=f"sfn-{name}", daemon=True).start()
        return {"executionArn": arn, "startDate": execution.started.timestamp()}

    def describe_execution(self, request: dict[str, Any]) -> dict[str, Any]:
        execution = self.executions.get(request["executionArn"])
        if execution is None:
            raise StepFunctionsError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{request['executionArn']}'")
        answer: dict[str, Any] = {"executionArn": execution.arn, "stateMachineArn": execution.machine,
                                  "name": execution.name, "status": execution.status, "input": execution.input,
                                  "startDate": execution.started.timestamp()}
        if execution.stopped is not None:
            answer["stopDate"] = execution.stopped.timestamp()
        if execution.status == "SUCCEEDED":
            answer["output"] = json.dumps(execution.output)
        return answer

    # --- running a workflow ---------------------------------------------------------------------

    def _run(self, execution: Execution) -> None:
        definition = self.machines[execution.machine]
        state_name: str | None = definition["StartAt"]
        data: Any = json.loads(execution.input)
        try:
            while state_name is not None:
                state = definition["States"][state_name]
                data = self._state(execution, state, data)
                state_name = None if state.get("End") or state["Type"] == "Succeed" else state["Next"]
            execution.status, execution.output = "SUCCEEDED", data
        except Exception as error:  # noqa: BLE001 - the execution fails, as Step Functions records it
            execution.status, execution.error = "FAILED", f"{type(error).__name__}: {error}"
        execution.stopped = datetime.now(UTC)

    def _state(self, execution: Execution, state: dict[str, Any], data: Any) -> Any:
        kind = state["Type"]
        if kind == "Wait":
            until = _wait_until(state, data, datetime.now(UTC))
            if self._stop.wait(max(0.0, (until - datetime.now(UTC)).total_seconds())):
                raise RuntimeError("the service stopped")
            return data
        if kind == "Task":
            resource = state["Resource"]
            if ":function:" not in resource:
                raise ValueError(f"only Lambda function tasks are supported here: {resource}")
            function = resource.split(":function:", 1)[1].split(":", 1)[0]
            execution.calls.append((datetime.now(UTC), function, data))
            return self.invoke(function, data)
        if kind in ("Pass", "Succeed"):
            return state.get("Result", data)
        raise ValueError(f"state type {kind} is not supported here")


def _wait_until(state: dict[str, Any], data: Any, now: datetime) -> datetime:
    if "Timestamp" in state:
        return _timestamp(state["Timestamp"])
    if "TimestampPath" in state:
        return _timestamp(_path(state["TimestampPath"], data))
    if "Seconds" in state:
        return now + timedelta(seconds=int(state["Seconds"]))
    if "SecondsPath" in state:
        return now + timedelta(seconds=int(_path(state["SecondsPath"], data)))
    raise ValueError(f"a Wait state needs Seconds, SecondsPath, Timestamp or TimestampPath: {state}")


def _path(path: str, data: Any) -> Any:
    found = jsonpath(path).find(data)
    if not found:
        raise ValueError(f"States.Runtime: {path} selects nothing in the state's input")
    return found[0].value


def _timestamp(value: str) -> datetime:
    # ISO 8601 with an uppercase T and Z (RFC 3339), as the Wait state requires.
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _handler(fake: FakeStepFunctions) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            target = self.headers.get("X-Amz-Target", "")
            try:
                if not target.startswith("AWSStepFunctions."):
                    raise StepFunctionsError("UnknownOperationException", f"unknown target {target!r}")
                code, body = 200, fake.call(target.split(".", 1)[1], json.loads(raw or b"{}"))
            except StepFunctionsError as error:
                code, body = 400, {"__type": error.kind, "message": str(error)}
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
