"""Fuzzing the API from its own OpenAPI document (schemathesis) with all its checks: no request,
however malformed, gets a 5xx; every answer conforms to the document (status, media type, error
shape); invalid data is refused; valid data is accepted or refused only for the reasons below; and
afterwards every task is in a valid state reached by allowed transitions."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup

from chalicelib.core.states import ExecutionKind, State, can_transition
from tests.support.gitrepo import make_bare_repo
from tests.support.localmode import LocalMode, start_local_mode

# What a schema-valid request may still be refused with, and why the document cannot rule it out:
# - 400: what the API checks beyond the request's schema: a reference to a repository, task,
#   template or secret that does not exist; a network allow entry that is no host name or CIDR;
#   an opaque cursor this API did not issue; a number DynamoDB cannot store (1e308); a cron
#   expression; params against a task's own paramsSchema;
# - 401 and 403: the runner's routes need the run token of the attempt, which the fuzzer has not;
# - 404: an id nobody created; 405: a repo task's id on the routes of blueprints and standalone
#   tasks (`/runs`, `/triggers`, SPEC §5); 409: a request the execution's state does not allow;
# - 429: never seen, allowed by schemathesis' defaults.
ACCEPTED = ["2xx", "3xx", "400", "401", "403", "404", "405", "409", "429"]

pytestmark = pytest.mark.xdist_group("e2e-fuzz")


@pytest.fixture(scope="module")
def fuzz_mode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMode]:
    mode = start_local_mode(tmp_path_factory.mktemp("fuzz"), OPTIO_MAX_CONCURRENT="1")
    yield mode
    mode.stop()


def test_every_operation_passes_every_check(fuzz_mode: LocalMode, tmp_path: Path) -> None:
    api = fuzz_mode.api
    repo = api.ok("POST", "/api/repos", {"repoUrl": str(make_bare_repo(tmp_path))}, status=201)
    # Real tasks in several states, so that fuzzed actions on `{task_id}` reach the state machine
    # and not only the 404 of a random id.
    seeded = [api.ok("POST", "/api/tasks", {"title": f"Seed {i}", "prompt": prompt, "repoId": repo["id"]},
                     status=201)["id"]
              for i, prompt in enumerate(["[fake:sleep=3]", "[fake:noop]", "[fake:fail]", "write"])]
    config = SchemathesisConfig.from_dict({"checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}}})
    loaded = schemathesis.openapi.from_dict(api.ok("GET", "/api/openapi.json"), config=config)
    headers = {"Authorization": f"Bearer {fuzz_mode.token}"}
    failures: list[str] = []
    for result in loaded.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(), real_id=st.sampled_from(seeded), use_real=st.booleans())
        @settings(max_examples=15, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def call(case: Any, real_id: str, use_real: bool) -> None:
            # Deleting the seeded tasks would leave nothing to check afterwards.
            if use_real and "task_id" in (case.path_parameters or {}) and case.method != "DELETE":
                case.path_parameters["task_id"] = real_id
            case.call_and_validate(base_url=fuzz_mode.url, headers=headers, timeout=30)

        try:
            call()
        except (AssertionError, FailureGroup) as failure:
            failures.append(f"{operation.method.upper()} {operation.path}: {failure}")
    assert not failures, "\n".join(failures)
    assert_only_allowed_transitions(fuzz_mode)


def assert_only_allowed_transitions(fuzz_mode: LocalMode) -> None:
    """Afterwards, every task went only through transitions SPEC §3 allows."""
    api = fuzz_mode.api
    tasks = api.ok("GET", "/api/tasks?limit=200")["items"]
    assert len(tasks) >= 4
    for task in tasks:
        events = api.ok("GET", f"/api/tasks/{task['id']}/events")["items"]
        assert events[0]["from"] is None and events[0]["to"] == "pending"
        for event in events[1:]:
            assert can_transition(ExecutionKind.REPO_TASK, State(event["from"]), State(event["to"])), (task["id"], event)
        state = api.task(task["id"])["state"]
        # A task may move between the two reads; compare only against a history that stood still.
        if api.ok("GET", f"/api/tasks/{task['id']}/events")["items"] == events:
            assert events[-1]["to"] == state
