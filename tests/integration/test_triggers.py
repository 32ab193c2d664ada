"""Schedule and webhook triggers of blueprints: over HTTP against local mode (SPEC §7), and the
tick in this process against the store with an injected `now`."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pynamodb.connection.base import Connection

from chalicelib.core.timefmt import iso
from chalicelib.exceptions import NotFound
from chalicelib.services import configs as config_actions
from chalicelib.services import hooks
from chalicelib.services import triggers as trigger_actions
from chalicelib.services.repos import register_repo
from chalicelib.store import configs, executions, triggers
from chalicelib.store.models import UniqueKeyModel
from chalicelib.store.tables import create_all
from tests.support.api import Api
from tests.support.gitrepo import make_bare_repo

pytestmark = pytest.mark.xdist_group("stack")


def problems(response: Any) -> list[str]:
    assert response.status_code == 400, response.text
    return [d["field"] for d in response.json()["details"]]


@pytest.fixture()
def blueprint(api: Api, repo: dict[str, Any]) -> dict[str, Any]:
    return api.ok("POST", "/api/tasks", {  # type: ignore[no-any-return]
        "type": "repo-blueprint", "name": f"bp-{uuid.uuid4().hex[:8]}", "title": "Fix {{issue}}",
        "prompt": "[fake:noop] fix {{issue}} in {{project}}", "repoId": repo["id"],
    }, status=201)


# --- schedule triggers over HTTP -------------------------------------------------------------

def test_schedule_trigger_crud(api: Api, blueprint: dict[str, Any]) -> None:
    path = f"/api/tasks/{blueprint['id']}/triggers"
    trigger = api.ok("POST", path, {"type": "schedule", "config": {"cronExpression": "0 9 * * *"},
                                    "enabled": True}, status=201)
    assert trigger["targetId"] == blueprint["id"] and trigger["enabled"] is True
    assert trigger["nextFireAt"].endswith("T09:00:00.000Z") and trigger["lastFiredAt"] is None
    assert api.ok("GET", path)["items"] == [trigger]
    assert api.ok("GET", f"/api/task-configs/{blueprint['id']}/triggers")["items"] == [trigger]

    again = api.post(path, {"type": "schedule", "config": {"cronExpression": "0 10 * * *"}})
    assert again.status_code == 409

    moved = api.ok("PATCH", f"{path}/{trigger['id']}", {"config": {"cronExpression": "30 6 * * *"}})
    assert moved["nextFireAt"].endswith("T06:30:00.000Z")
    paused = api.ok("PATCH", f"{path}/{trigger['id']}", {"enabled": False})
    assert paused["enabled"] is False
    assert "config.cronExpression" in problems(api.request("PATCH", f"{path}/{trigger['id']}",
                                                           json={"config": {"cronExpression": "* * *"}}))
    assert api.request("PATCH", f"{path}/{uuid.uuid4()}", json={"enabled": True}).status_code == 404

    assert api.request("DELETE", f"{path}/{trigger['id']}").status_code == 204
    assert api.ok("GET", path)["items"] == []
    api.ok("POST", path, {"type": "schedule", "config": {"cronExpression": "0 10 * * *"}}, status=201)


@pytest.mark.parametrize("cron", ["0 9 * *", "0 0 9 * * *", "garbage", "@daily", "61 * * * *", ""])
def test_bad_cron_expressions_are_400_and_nothing_is_stored(api: Api, blueprint: dict[str, Any], cron: str) -> None:
    path = f"/api/tasks/{blueprint['id']}/triggers"
    assert "config.cronExpression" in problems(api.post(path, {"type": "schedule", "config": {"cronExpression": cron}}))
    assert api.ok("GET", path)["items"] == []


@pytest.mark.parametrize("body,field", [
    ({"type": "schedule", "config": {}}, "config.cronExpression"),
    ({"type": "schedule", "config": {"cronExpression": "0 9 * * *", "tz": "CET"}}, "config.tz"),
    ({"type": "cron", "config": {}}, "type"),
    ({"type": "ticket", "config": {}}, "config.source"),
    ({"type": "ticket", "config": {"source": "github", "labels": "cve"}}, "config.labels"),
    ({"type": "schedule"}, "config"),
    ({"type": "webhook", "config": {"path": "has/slash"}}, "config.path"),
    ({"type": "webhook", "config": {"path": "p", "paramMapping": {"a": "$[["}}}, "config.paramMapping.a"),
])
def test_bad_triggers_name_the_field(api: Api, blueprint: dict[str, Any], body: dict[str, Any], field: str) -> None:
    assert field in problems(api.post(f"/api/tasks/{blueprint['id']}/triggers", body))


def test_triggers_are_405_for_a_repo_task(api: Api, repo: dict[str, Any]) -> None:
    task = api.ok("POST", "/api/tasks", {"title": "t", "prompt": "[fake:noop]", "repoId": repo["id"]}, status=201)
    assert api.get(f"/api/tasks/{task['id']}/triggers").status_code == 405
    assert api.post(f"/api/tasks/{task['id']}/triggers", {"type": "schedule", "config": {}}).status_code == 405
    assert api.get(f"/api/tasks/{uuid.uuid4()}/triggers").status_code == 404


# --- webhooks over HTTP ----------------------------------------------------------------------

def sign(secret: str, raw: bytes) -> str:
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


@pytest.fixture()
def hook(api: Api, blueprint: dict[str, Any]) -> dict[str, Any]:
    path = f"sentry-{uuid.uuid4().hex[:8]}"
    trigger = api.ok("POST", f"/api/tasks/{blueprint['id']}/triggers", {"type": "webhook", "config": {
        "path": path, "secret": "s3cret",
        "paramMapping": {"issue": "$.data.issue.title", "project": "$.data.project.slug"}}}, status=201)
    assert trigger["config"] == {"path": path, "hasSecret": True, "paramMapping": trigger["config"]["paramMapping"]}
    return {"path": path, "trigger": trigger, "blueprint": blueprint}


def test_a_signed_webhook_creates_a_run_with_the_mapped_params(api: Api, anonymous: Api, hook: dict[str, Any]) -> None:
    raw = json.dumps({"data": {"issue": {"title": "TypeError in checkout"}, "project": {"slug": "web"}}}).encode()
    for signature in (sign("s3cret", raw), "sha256=" + sign("s3cret", raw)):
        response = anonymous.request("POST", f"/api/hooks/{hook['path']}", data=raw, headers={
            "Content-Type": "application/json", "X-Optio-Signature": signature})
        assert response.status_code == 202, response.text
        task = api.task(response.json()["runId"])
        assert task["prompt"] == "[fake:noop] fix TypeError in checkout in web"
        assert task["title"] == "Fix TypeError in checkout"
        assert task["metadata"]["triggerParams"] == {"issue": "TypeError in checkout", "project": "web"}
        assert task["metadata"]["taskConfigId"] == hook["blueprint"]["id"]
    runs = api.ok("GET", f"/api/tasks/{hook['blueprint']['id']}/runs")["items"]
    assert len(runs) == 2


def test_a_wrong_or_missing_signature_is_401(anonymous: Api, hook: dict[str, Any]) -> None:
    raw = b'{"data": {}}'
    for headers in ({"X-Optio-Signature": sign("other", raw)}, {}, {"X-Optio-Signature": "zz"}):
        response = anonymous.request("POST", f"/api/hooks/{hook['path']}", data=raw,
                                     headers={"Content-Type": "application/json", **headers})
        assert response.status_code == 401, response.text


def test_unknown_or_paused_hooks_are_404(api: Api, anonymous: Api, hook: dict[str, Any]) -> None:
    assert anonymous.post(f"/api/hooks/nope-{uuid.uuid4().hex}", {}).status_code == 404
    trigger_path = f"/api/tasks/{hook['blueprint']['id']}/triggers/{hook['trigger']['id']}"
    api.ok("PATCH", trigger_path, {"enabled": False})
    assert anonymous.post(f"/api/hooks/{hook['path']}", {}).status_code == 404
    api.ok("PATCH", trigger_path, {"enabled": True})
    api.ok("PATCH", f"/api/tasks/{hook['blueprint']['id']}", {"enabled": False})
    assert anonymous.post(f"/api/hooks/{hook['path']}", {}).status_code == 404


def test_webhook_paths_are_unique(api: Api, hook: dict[str, Any], repo: dict[str, Any]) -> None:
    other = api.ok("POST", "/api/tasks", {"type": "repo-blueprint", "name": "other", "prompt": "[fake:noop]",
                                          "repoId": repo["id"]}, status=201)
    clash = api.post(f"/api/tasks/{other['id']}/triggers", {"type": "webhook", "config": {"path": hook["path"]}})
    assert clash.status_code == 409
    api.ok("DELETE", f"/api/tasks/{hook['blueprint']['id']}", status=204)
    api.ok("POST", f"/api/tasks/{other['id']}/triggers", {"type": "webhook", "config": {"path": hook["path"]}},
           status=201)


def test_an_unmapped_body_is_the_params_and_big_bodies_are_413(api: Api, anonymous: Api,
                                                              blueprint: dict[str, Any]) -> None:
    path = f"plain-{uuid.uuid4().hex[:8]}"
    api.ok("POST", f"/api/tasks/{blueprint['id']}/triggers", {"type": "webhook", "config": {"path": path}}, status=201)
    run = anonymous.post(f"/api/hooks/{path}", {"issue": "#7", "project": "api"})
    assert run.status_code == 202, run.text
    task = api.task(run.json()["runId"])
    assert task["prompt"] == "[fake:noop] fix #7 in api"
    assert task["metadata"]["triggerParams"] == {"issue": "#7", "project": "api"}
    huge = anonymous.request("POST", f"/api/hooks/{path}", data=b'{"x": "' + b"a" * (1024 * 1024) + b'"}',
                             headers={"Content-Type": "application/json"})
    assert huge.status_code == 413


def test_the_61st_request_in_a_minute_is_429(api: Api, anonymous: Api, blueprint: dict[str, Any]) -> None:
    path = f"busy-{uuid.uuid4().hex[:8]}"
    api.ok("POST", f"/api/tasks/{blueprint['id']}/triggers", {"type": "webhook", "config": {
        "path": path, "secret": "k"}}, status=201)
    # Unsigned deliveries count too (401s), and create no runs; one minute boundary may fall
    # inside the burst, so send until refused, at most twice the limit.
    codes = []
    for _ in range(121):
        response = anonymous.post(f"/api/hooks/{path}", {})
        codes.append(response.status_code)
        if response.status_code == 429:
            assert int(response.headers["Retry-After"]) >= 1
            break
    assert codes[-1] == 429 and set(codes[:-1]) == {401} and len(codes) >= 61


# --- the webhook tester: a dry run by the delivery's own steps ------------------------------------

SENTRY_ALERT = {"action": "created", "data": {"issue": {"title": "TypeError: cart is undefined",
                                                        "project": {"slug": "checkout"}}}}


def test_the_tester_shows_what_a_delivery_then_makes(api: Api, anonymous: Api, hook: dict[str, Any]) -> None:
    blueprint = hook["blueprint"]
    mapping = hook["trigger"]["config"]["paramMapping"]
    runs = f"/api/tasks/{blueprint['id']}/runs"
    raw = json.dumps({"data": {"issue": {"title": "TypeError in checkout"}, "project": {"slug": "web"}}})
    tested = api.ok("POST", f"/api/tasks/{blueprint['id']}/hooks/test",
                    {"config": {"paramMapping": mapping}, "payload": raw})
    assert tested == {"params": {"issue": "TypeError in checkout", "project": "web"}, "title": "Fix TypeError in checkout",
                      "prompt": "[fake:noop] fix TypeError in checkout in web", "problems": []}
    assert api.ok("GET", runs)["items"] == []  # nothing ran
    delivered = anonymous.request("POST", f"/api/hooks/{hook['path']}", data=raw.encode(), headers={
        "Content-Type": "application/json", "X-Optio-Signature": sign("s3cret", raw.encode())})
    task = api.task(delivered.json()["runId"])
    assert (task["title"], task["prompt"], task["metadata"]["triggerParams"]) == (
        tested["title"], tested["prompt"], tested["params"])


def test_the_tester_leaves_out_what_matches_nothing_and_maps_nothing_without_rows(api: Api,
                                                                                 blueprint: dict[str, Any]) -> None:
    path = f"/api/tasks/{blueprint['id']}/hooks/test"
    tested = api.ok("POST", path, {"config": {"paramMapping": {"issue": "$.data.issue.title", "project": "$.nowhere"}},
                                   "payload": json.dumps(SENTRY_ALERT)})
    assert tested["params"] == {"issue": "TypeError: cart is undefined"}
    assert tested["title"] == "Fix TypeError: cart is undefined"
    # No mapping: the whole body is the params, as a delivery's is; an empty body is none.
    assert api.ok("POST", path, {"payload": '{"issue": "#7"}'})["title"] == "Fix #7"
    assert api.ok("POST", path, {"payload": ""})["params"] == {}


def test_the_tester_shows_the_problems_that_would_refuse_a_delivery(api: Api, repo: dict[str, Any]) -> None:
    strict = api.ok("POST", "/api/tasks", {"type": "repo-blueprint", "name": "strict", "title": "Fix {{error}}",
                                           "prompt": "[fake:noop]", "repoId": repo["id"], "paramsSchema": {
                                               "type": "object", "required": ["error"],
                                               "properties": {"error": {"type": "string"}}}}, status=201)
    tested = api.ok("POST", f"/api/tasks/{strict['id']}/hooks/test", {
        "config": {"paramMapping": {"error": "$.data.nothing"}}, "payload": json.dumps(SENTRY_ALERT)})
    assert tested["title"] is None and tested["params"] == {}
    assert [p["field"] for p in tested["problems"]] == ["params.error"]


@pytest.mark.parametrize("body,field", [
    ({"config": {"paramMapping": {"error": "$[["}}, "payload": "{}"}, "config.paramMapping.error"),
    ({"config": {"paramMapping": {"error": 7}}, "payload": "{}"}, "config.paramMapping.error"),
    ({"payload": "{not json"}, "payload"),
    ({"payload": "[1, 2]"}, "payload"),
    ({"payload": '{"n": NaN}'}, "payload.n"),
    ({}, "payload"),
    ({"payload": "{}", "paramMapping": {}}, "paramMapping"),
])
def test_the_tester_names_a_bad_mapping_or_payload(api: Api, blueprint: dict[str, Any], body: dict[str, Any],
                                                   field: str) -> None:
    assert problems(api.post(f"/api/tasks/{blueprint['id']}/hooks/test", body)) == [field]


def test_the_tester_is_405_for_a_repo_task(api: Api, repo: dict[str, Any]) -> None:
    task = api.ok("POST", "/api/tasks", {"title": "t", "prompt": "[fake:noop]", "repoId": repo["id"]}, status=201)
    assert api.post(f"/api/tasks/{task['id']}/hooks/test", {"payload": "{}"}).status_code == 405


# --- the tick, in this process ---------------------------------------------------------------

T = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def local_repo(tmp_path_factory: pytest.TempPathFactory) -> str:
    create_all()
    return register_repo({"repoUrl": str(make_bare_repo(Path(tmp_path_factory.mktemp("tick"))))}).id


def scheduled(repo_id: str, cron: str, due_at: datetime) -> tuple[str, str]:
    config = config_actions.create_blueprint({"type": "repo-blueprint", "name": "tick", "prompt": "p {{x}}",
                                              "repoId": repo_id})
    trigger = trigger_actions.create_trigger(config, {"type": "schedule", "config": {"cronExpression": cron}})
    triggers.update(trigger, {"nextFireAt": iso(due_at)}, due_at)
    return config.id, trigger.id


def test_a_webhook_delivery_makes_six_round_trips(local_repo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The claim's count, the trigger with its blueprint (read together: the path's claim names
    the blueprint), the repo, the run's transaction and `lastFiredAt` (a webhook's latency is its
    round trips to DynamoDB): no scan of the secrets when the blueprint gives its agents none. The
    minute's first delivery starts its count (a second write): the second delivery in that minute
    is the one measured."""
    config = config_actions.create_blueprint({"type": "repo-blueprint", "name": "hook", "prompt": "p",
                                              "repoId": local_repo})
    path = f"trips-{uuid.uuid4().hex[:8]}"
    trigger = trigger_actions.create_trigger(config, {"type": "webhook", "config": {"path": path}})
    made: list[str] = []
    dispatch = Connection.dispatch

    def recorded(connection: Connection, operation: str, kwargs: dict[str, Any]) -> Any:
        made.append(operation)
        return dispatch(connection, operation, kwargs)

    hooks.receive(path, b"{}", None, now=T)
    monkeypatch.setattr(Connection, "dispatch", recorded)  # pynamodb's wire: recorded, passed on
    run = hooks.receive(path, b"{}", None, now=T)
    assert run.taskConfigId == config.id
    assert sorted(made) == ["GetItem", "GetItem", "GetItem", "TransactWriteItems", "UpdateItem", "UpdateItem"]
    assert triggers.count_delivery(path, iso(T)[:16]) == triggers.Delivery(trigger.id, config.id, 3)


def test_a_webhook_path_claimed_before_claims_named_the_blueprint_still_delivers(local_repo: str) -> None:
    config = config_actions.create_blueprint({"type": "repo-blueprint", "name": "old hook", "prompt": "p",
                                              "repoId": local_repo})
    path = f"old-{uuid.uuid4().hex[:8]}"
    trigger_actions.create_trigger(config, {"type": "webhook", "config": {"path": path}})
    UniqueKeyModel(triggers.path_key(path)).update(actions=[UniqueKeyModel.targetId.remove()])

    assert hooks.receive(path, b"{}", None, now=T).taskConfigId == config.id
    config_actions.update_blueprint(configs.get(config.id), {"enabled": False})
    with pytest.raises(NotFound):
        hooks.receive(path, b"{}", None, now=T)


def firings(config_id: str) -> int:
    return len(executions.of_config(config_id, 200, None).items)


def test_a_due_trigger_fires_once_per_due_time(local_repo: str) -> None:
    config_id, trigger_id = scheduled(local_repo, "0 9 * * *", T)
    trigger_actions.tick(T - timedelta(seconds=1))
    assert firings(config_id) == 0
    trigger_actions.tick(T)
    assert firings(config_id) == 1
    trigger_actions.tick(T + timedelta(seconds=30))
    trigger_actions.tick(T + timedelta(minutes=5))
    assert firings(config_id) == 1
    trigger = triggers.get(trigger_id)
    assert trigger.nextFireAt == iso(T + timedelta(days=1)) and trigger.lastFiredAt == iso(T)
    run = executions.of_config(config_id, 1, None).items[0]
    assert run.metadata["trigger"] == {"type": "schedule", "triggerId": trigger_id, "dueAt": iso(T)}


def test_overlapping_ticks_fire_once(local_repo: str) -> None:
    config_id, _ = scheduled(local_repo, "*/5 * * * *", T)
    barrier = threading.Barrier(4)

    def tick() -> None:
        barrier.wait()
        trigger_actions.tick(T + timedelta(seconds=10))

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert firings(config_id) == 1


def test_after_downtime_it_fires_once_not_per_missed_slot(local_repo: str) -> None:
    config_id, trigger_id = scheduled(local_repo, "*/5 * * * *", T)
    later = T + timedelta(hours=2, minutes=1)
    trigger_actions.tick(later)
    trigger_actions.tick(later + timedelta(seconds=30))
    assert firings(config_id) == 1
    assert triggers.get(trigger_id).nextFireAt == iso(T + timedelta(hours=2, minutes=5))


def test_paused_configs_and_triggers_do_not_fire(local_repo: str) -> None:
    config_id, trigger_id = scheduled(local_repo, "0 9 * * *", T)
    config_actions.update_blueprint(configs.get(config_id), {"enabled": False})
    trigger_actions.tick(T)
    assert firings(config_id) == 0
    assert triggers.get(trigger_id).nextFireAt == iso(T + timedelta(days=1))

    config_id, trigger_id = scheduled(local_repo, "0 9 * * *", T)
    trigger_actions.update_trigger(configs.get(config_id), trigger_id, {"enabled": False})
    triggers.update(triggers.get(trigger_id), {"nextFireAt": iso(T)}, T)
    trigger_actions.tick(T + timedelta(minutes=1))
    assert firings(config_id) == 0


def test_a_schedule_fires_with_its_constant_params_and_the_schemas_defaults(local_repo: str) -> None:
    config = config_actions.create_blueprint({
        "type": "repo-blueprint", "name": "weekly", "title": "Audit {{AREA}}", "prompt": "audit {{AREA}} for {{WHAT}}",
        "repoId": local_repo, "paramsSchema": {"type": "object", "required": ["AREA"], "properties": {
            "AREA": {"type": "string"}, "WHAT": {"type": "string", "default": "CVEs"}}}})
    trigger = trigger_actions.create_trigger(config, {"type": "schedule", "config": {
        "cronExpression": "0 9 * * 1", "paramMapping": {"AREA": "docs"}}})
    triggers.update(trigger, {"nextFireAt": iso(T)}, T)
    trigger_actions.tick(T)
    [run] = executions.of_config(config.id, 10, None).items
    assert (run.title, run.prompt) == ("Audit docs", "audit docs for CVEs")
    assert run.metadata["triggerParams"] == {"AREA": "docs", "WHAT": "CVEs"}


# --- a webhook path's rate limit, in this process -----------------------------------------------


def test_a_paths_deliveries_are_counted_per_minute_racing_or_not(local_repo: str) -> None:
    from chalicelib.exceptions import NotFound, RateLimited, Unauthorized
    from chalicelib.services import hooks

    config = config_actions.create_blueprint({"type": "repo-blueprint", "name": "hooked", "prompt": "p",
                                              "repoId": local_repo})
    path = f"counted-{uuid.uuid4().hex[:8]}"
    trigger_actions.create_trigger(config, {"type": "webhook", "config": {"path": path, "secret": "k"}})

    def deliver(at: datetime) -> str:
        try:
            hooks.receive(path, b"{}", None, at)  # unsigned: counted, then refused, no run
        except (RateLimited, Unauthorized) as refused:
            return type(refused).__name__
        return "accepted"

    # A minute's first deliveries race to start its count: every one of them is counted.
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def racing() -> None:
        barrier.wait()
        outcomes.append(deliver(T))

    threads = [threading.Thread(target=racing) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcomes += [deliver(T + timedelta(seconds=s % 60)) for s in range(hooks.RATE_PER_MINUTE - 6)]
    assert set(outcomes) == {"Unauthorized"}
    assert deliver(T + timedelta(seconds=59)) == "RateLimited"
    # The next minute counts afresh.
    assert deliver(T + timedelta(minutes=1)) == "Unauthorized"
    with pytest.raises(NotFound):
        hooks.receive(f"nowhere-{uuid.uuid4().hex[:8]}", b"{}", None, T)
