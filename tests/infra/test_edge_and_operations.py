"""Issue 17's edge (4) and operations (5), on the synthesised templates: the stage's throttle,
access logs and WAF; reserved concurrency; alarms that notify a topic; the launcher's
asynchronous events; log groups; the dashboard. `assembly` is the default deploy, `imported` one
with EDGE_AND_ALARMS given."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core.failures import FailureKind

from .conftest import EDGE_AND_ALARMS, REPO_ROOT, STAGES, Assembly, resources
from .test_template import _join

pytestmark = [pytest.mark.xdist_group("infra"), pytest.mark.timeout(900)]

def _one(template: dict[str, Any], kind: str) -> tuple[str, dict[str, Any]]:
    [(key, resource)] = resources(template, kind).items()
    return key, resource["Properties"]


def _api(template: dict[str, Any]) -> dict[str, Any]:
    return _one(template, "AWS::Serverless::Api")[1]


@pytest.mark.parametrize("stage", STAGES)
def test_the_stage_is_throttled_and_logs_every_request_as_json(assembly: Assembly, stage: str) -> None:
    template = assembly.template(stage)
    api = _api(template)
    [settings] = api["MethodSettings"]
    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (50, 100)
    access = api["AccessLogSetting"]
    line = json.loads(access["Format"])  # one JSON object a request
    assert {"requestId", "ip", "status", "path", "latencyMs", "wafStatus"} <= set(line)
    group = template["Resources"][access["DestinationArn"]["Fn::GetAtt"][0]]["Properties"]
    assert group["RetentionInDays"] == 30 and "KmsKeyId" in group
    # The account's CloudWatch role for API Gateway, set before the stage logs with it.
    account_id, account = _one(template, "AWS::ApiGateway::Account")
    role = template["Resources"][account["CloudWatchRoleArn"]["Fn::GetAtt"][0]]
    assert any("AmazonAPIGatewayPushToCloudWatchLogs" in json.dumps(p) for p in role["Properties"]["ManagedPolicyArns"])
    assert account_id in template["Resources"]["RestAPI"]["DependsOn"]
    # Kept with the stack's destroy: the other stage's API logs with the same account setting.
    assert template["Resources"][account_id]["DeletionPolicy"] == "Retain"


def test_the_throttle_follows_the_context(imported: Assembly) -> None:
    [settings] = _api(imported.template("prod"))["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == float(EDGE_AND_ALARMS["apiRateLimit"])
    assert settings["ThrottlingBurstLimit"] == int(EDGE_AND_ALARMS["apiBurstLimit"])


def _rules(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["Name"]: r for r in _one(template, "AWS::WAFv2::WebACL")[1]["Rules"]}


@pytest.mark.parametrize("stage", STAGES)
def test_a_waf_rate_limits_the_public_routes_and_runs_the_managed_rules(assembly: Assembly, stage: str) -> None:
    template = assembly.template(stage)
    acl_id, acl = _one(template, "AWS::WAFv2::WebACL")
    assert acl["Scope"] == "REGIONAL" and acl["DefaultAction"] == {"Allow": {}}
    rate = _rules(template)["public-routes-rate"]
    assert rate["Action"] == {"Block": {}}
    statement = rate["Statement"]["RateBasedStatement"]
    assert (statement["Limit"], statement["AggregateKeyType"], statement["EvaluationWindowSec"]) == (300, "IP", 300)
    match = statement["ScopeDownStatement"]["RegexMatchStatement"]
    assert match["FieldToMatch"] == {"UriPath": {}}
    public = re.compile(match["RegexString"])
    # At the stage URL (the stage in the path) and on a custom domain (at its root).
    for prefix in ("/api", ""):
        for path in ("/api/hooks/sentry", "/api/webhooks/github", "/api/auth/session", "/api/setup/admin"):
            assert public.search(prefix + path), prefix + path
        for path in ("/api/tasks", "/api/internal/tasks/x/events", "/api/health", "/"):
            assert not public.search(prefix + path), prefix + path
    # AWS's managed groups; the common set's body rules count (bodies are issue text, code and
    # agents' output, webhook payloads and log batches over 8 KB) instead of blocking.
    common = _rules(template)["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    counted = {o["Name"] for o in common["RuleActionOverrides"] if o["ActionToUse"] == {"Count": {}}}
    assert {"SizeRestrictions_BODY", "CrossSiteScripting_BODY"} <= counted
    assert all(name.endswith("_BODY") for name in counted)
    bad_inputs = _rules(template)["AWSManagedRulesKnownBadInputsRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    assert bad_inputs["VendorName"] == "AWS" and not bad_inputs.get("RuleActionOverrides")
    # On the API's stage (the SAM transform makes RestAPIapiStage).
    _, association = _one(template, "AWS::WAFv2::WebACLAssociation")
    assert association["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    assert association["ResourceArn"]["Fn::Sub"][0].endswith("/restapis/${Api}/stages/api")
    # What it blocked or counted is logged, in a group with a retention and the key.
    _, logging = _one(template, "AWS::WAFv2::LoggingConfiguration")
    assert logging["ResourceArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    waf_groups = [g["Properties"] for g in resources(template, "AWS::Logs::LogGroup").values()
                  if str(g["Properties"].get("LogGroupName", "")).startswith("aws-waf-logs-")]
    assert [(g["RetentionInDays"], "KmsKeyId" in g) for g in waf_groups] == [(30, True)]


def test_the_public_rate_limit_follows_the_context(imported: Assembly) -> None:
    statement = _rules(imported.template("prod"))["public-routes-rate"]["Statement"]["RateBasedStatement"]
    assert statement["Limit"] == int(EDGE_AND_ALARMS["publicRateLimit"])


def _reserved(template: dict[str, Any]) -> dict[str, Any]:
    return {k: r["Properties"].get("ReservedConcurrentExecutions")
            for k, r in resources(template, "AWS::Serverless::Function").items()}


@pytest.mark.parametrize("stage", STAGES)
def test_the_functions_that_must_not_starve_have_reserved_concurrency(assembly: Assembly, stage: str) -> None:
    reserved = _reserved(assembly.template(stage))
    # The live logs' functions reserve none: a throttled push leaves the page polling, nothing lost.
    assert reserved == {"APIHandler": 50, "ExecutionStream": 10, "Launcher": 10, "Resync": 1,
                        "TicketSync": None, "TriggerTick": None, "ExecutionTimer": None, "LogStream": None,
                        "WebsocketConnect": None, "WebsocketMessage": None, "WebsocketDisconnect": None}


def test_reserved_concurrency_can_be_turned_off_for_a_new_account(imported: Assembly) -> None:
    assert set(_reserved(imported.template("prod")).values()) == {None}


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: a["Properties"] for k, a in resources(template, "AWS::CloudWatch::Alarm").items()}


def _metrics(alarm: dict[str, Any]) -> list[tuple[str, str]]:
    if "MetricName" in alarm:
        return [(alarm["Namespace"], alarm["MetricName"])]
    return [(m["MetricStat"]["Metric"]["Namespace"], m["MetricStat"]["Metric"]["MetricName"])
            for m in alarm["Metrics"] if "MetricStat" in m]


@pytest.mark.parametrize("stage", STAGES)
def test_every_alarm_notifies_the_topic_encrypted_with_the_key(assembly: Assembly, stage: str) -> None:
    template = assembly.template(stage)
    topic_id, topic = _one(template, "AWS::SNS::Topic")
    assert topic["KmsMasterKeyId"]["Fn::GetAtt"][1] == "Arn"
    alarms = _alarms(template)
    assert len(alarms) > 20
    for key, alarm in alarms.items():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}], key
        assert alarm["OKActions"] == [{"Ref": topic_id}], key
    # CloudWatch may use the key to publish to the topic.
    [key] = resources(template, "AWS::KMS::Key").values()
    assert any(s["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and "kms:GenerateDataKey*" in s["Action"]
               for s in key["Properties"]["KeyPolicy"]["Statement"])
    assert not resources(template, "AWS::SNS::Subscription")  # no address given


def test_an_alarm_email_subscribes_to_the_topic(imported: Assembly) -> None:
    template = imported.template("prod")
    topic_id, _ = _one(template, "AWS::SNS::Topic")
    _, subscription = _one(template, "AWS::SNS::Subscription")
    assert subscription == {"Protocol": "email", "Endpoint": EDGE_AND_ALARMS["alarmEmail"], "TopicArn": {"Ref": topic_id}}


@pytest.mark.parametrize("stage", STAGES)
def test_alarms_for_the_api_the_stream_the_launcher_the_tables_the_watcher_and_the_pods(assembly: Assembly,
                                                                                          stage: str) -> None:
    template = assembly.template(stage)
    alarms = _alarms(template)
    by_metric = {m: a for a in alarms.values() for m in _metrics(a)}
    api = by_metric[("AWS/ApiGateway", "5XXError")]
    assert all({"Name": "ApiName", "Value": f"optio-{stage}"} in m["MetricStat"]["Metric"]["Dimensions"]
               for m in api["Metrics"] if "MetricStat" in m)
    assert _api(template)["Name"] == f"optio-{stage}"  # the ApiName the metrics carry
    latency = by_metric[("AWS/ApiGateway", "Latency")]
    assert latency["ExtendedStatistic"] == "p99"
    assert ("AWS/Lambda", "IteratorAge") in by_metric
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in by_metric
    dropped = by_metric[("AWS/Lambda", "AsyncEventsDropped")]
    assert dropped["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "Launcher"}}]
    assert any(m == ("AWS/Lambda", "Errors") and a.get("Dimensions") == [{"Name": "FunctionName", "Value": {"Ref": "Launcher"}}]
               for a in alarms.values() for m in _metrics(a))
    # DynamoDB's throttles and system errors, over every table of the stage.
    queries = [m["Expression"] for a in alarms.values() for m in a.get("Metrics", []) if "SELECT" in m.get("Expression", "")]
    for metric in ("ThrottledRequests", "SystemErrors"):
        [query] = [q for q in queries if f"SUM({metric})" in q]
        tables = {r["Properties"]["TableName"] for r in resources(template, "AWS::DynamoDB::Table").values()}
        assert set(re.findall(r"TableName = '([^']+)'", query)) == tables
    # A watcher that has not polled for three intervals: no data is a breach.
    watcher = by_metric[("Optio", "WatcherPolls")]
    assert watcher["TreatMissingData"] == "breaching" and watcher["ComparisonOperator"] == "LessThanThreshold"
    assert watcher["Period"] * watcher["EvaluationPeriods"] >= 3 * 30
    assert {"Name": "service", "Value": "optio-watcher"} in watcher["Dimensions"]
    # Agents' pods failing: the failure kinds the launcher sees, counted by reason.
    pods = [a for a in alarms.values() if ("Optio", "TaskFailures") in _metrics(a)]
    assert len(pods) == 1
    reasons = {d["Value"] for m in pods[0]["Metrics"] if "MetricStat" in m
               for d in m["MetricStat"]["Metric"]["Dimensions"] if d["Name"] == "reason"}
    assert {"crash", "oom_killed", "evicted", "image_pull", "pod_gone"} <= reasons
    assert reasons <= {k.value for k in FailureKind}


@pytest.mark.parametrize("stage", STAGES)
def test_the_launchers_events_are_kept_4_minutes_then_fail_the_launch(assembly: Assembly, stage: str) -> None:
    template = assembly.template(stage)
    _, config = _one(template, "AWS::Lambda::EventInvokeConfig")
    assert config["FunctionName"] == {"Ref": "Launcher"} and config["Qualifier"] == "$LATEST"
    assert config["MaximumEventAgeInSeconds"] == 240 and config["MaximumRetryAttempts"] == 2
    timer = {"Fn::GetAtt": ["ExecutionTimer", "Arn"]}
    assert config["DestinationConfig"] == {"OnFailure": {"Destination": timer}}
    # Lambda delivers the record with the launcher's role: it may invoke the timer function.
    role = template["Resources"]["Launcher"]["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [s for p in resources(template, "AWS::IAM::Policy").values()
                  if {"Ref": role} in p["Properties"]["Roles"] for s in p["Properties"]["PolicyDocument"]["Statement"]]
    assert {"Action": "lambda:InvokeFunction", "Effect": "Allow", "Resource": timer} in statements
    from chalicelib.launch.lambda_async import LAUNCH_GRACE
    assert config["MaximumEventAgeInSeconds"] <= LAUNCH_GRACE.total_seconds()


@pytest.mark.parametrize("stage", STAGES)
def test_every_log_group_expires_and_is_encrypted_the_control_planes_too(assembly: Assembly, stage: str) -> None:
    template = assembly.template(stage)
    groups = resources(template, "AWS::Logs::LogGroup")
    for key, group in groups.items():
        assert group["Properties"].get("RetentionInDays"), key
        if key.startswith(("Cluster", "AWS679f53fac002430cb0da5b7982bd2287")) or "Provider" in key:
            continue  # CDK's own providers' groups (LogRetention): no key to give them
        assert "KmsKeyId" in group["Properties"], key
    [control_plane] = [(k, g) for k, g in groups.items()
                       if g["Properties"].get("LogGroupName") == f"/aws/eks/optio-{stage}/cluster"]
    cluster_id, _ = _one(template, "Custom::AWSCDK-EKS-Cluster")
    assert control_plane[0] in template["Resources"][cluster_id]["DependsOn"]  # before EKS makes its own


@pytest.mark.parametrize("stage", STAGES)
def test_the_watcher_sends_its_polls_to_a_group_it_alone_may_write(assembly: Assembly, stage: str) -> None:
    template = assembly.template(stage)
    [(key, group)] = [(k, g) for k, g in resources(template, "AWS::Logs::LogGroup").items()
                      if g["Properties"].get("LogGroupName") == f"/optio/{stage}/watcher"]
    assert group["Properties"]["RetentionInDays"] == 30
    writers = [p["Properties"]["Roles"] for p in resources(template, "AWS::IAM::Policy").values()
               for s in p["Properties"]["PolicyDocument"]["Statement"]
               if {"Fn::GetAtt": [key, "Arn"]} in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]
    [watcher_role] = [k for k in resources(template, "AWS::IAM::Role") if k.startswith("WatcherRole")]
    assert writers == [[{"Ref": watcher_role}]]
    assert f"/optio/{stage}/watcher" in json.dumps(resources(template, "Custom::AWSCDK-EKS-KubernetesResource"))


@pytest.mark.parametrize("stage", STAGES)
def test_the_dashboard_shows_the_queue_running_agents_failures_by_reason_and_cost(assembly: Assembly,
                                                                                  stage: str) -> None:
    [dashboard] = resources(assembly.template(stage), "AWS::CloudWatch::Dashboard").values()
    body = json.loads(_join(dashboard["Properties"]["DashboardBody"]))
    metrics = [m for w in body["widgets"] for m in w.get("properties", {}).get("metrics", [])]
    # [namespace, name, dim, value, dim, value, ..., {options}]
    found = {(m[0], m[1], frozenset(zip(m[2:-1:2], m[3:-1:2], strict=True))) for m in metrics
             if isinstance(m[0], str) and isinstance(m[-1], dict)}
    for metric in ("QueueDepth", "AgentsRunning", "TaskCostUsd"):
        assert ("Optio", metric, frozenset({("service", "optio")})) in found, metric
    for reason in ("crash", "oom_killed", "launch_failed", "stalled", "agent_error"):
        assert ("Optio", "TaskFailures", frozenset({("service", "optio"), ("reason", reason)})) in found, reason


def test_each_poll_of_the_watcher_counts_in_cloudwatch(tmp_path: Path) -> None:
    """The pod's entrypoint sends each poll's EMF document (powertools') to the log group, a stream
    per pod; CloudWatch extracts `WatcherPolls`, which the WatcherSilent alarm reads. A poll that
    raised counts too; a pod that restarts writes to its stream again."""
    import boto3

    from tests.fakes.cloudwatchlogs_api import FakeCloudWatchLogs

    sys.path.insert(0, str(REPO_ROOT / "infra"))
    try:
        import watcher_entrypoint
    finally:
        sys.path.remove(str(REPO_ROOT / "infra"))
    group = "/optio/dev/watcher"
    fake = FakeCloudWatchLogs(groups={group}).start()
    try:
        client = boto3.client("logs", endpoint_url=fake.url, region_name="us-east-1",
                              aws_access_key_id="test", aws_secret_access_key="test")
        report = watcher_entrypoint.poll_metric(client, group, "optio-watcher-7d9f-abcde", "optio-watcher")
        heartbeat = tmp_path / "polled"

        def throttled() -> None:
            raise RuntimeError("GitHub answered 403: rate limited")

        assert watcher_entrypoint.beating(lambda: "passed", heartbeat, report)() == "passed"
        with pytest.raises(RuntimeError):
            watcher_entrypoint.beating(throttled, heartbeat, report)()
        watcher_entrypoint.poll_metric(client, group, "optio-watcher-7d9f-abcde", "optio-watcher")()
        polls = [m for m in fake.metrics(group) if m[1] == "WatcherPolls"]
        assert polls == [("Optio", "WatcherPolls", {"service": "optio-watcher"}, 1.0)] * 3
        # A report that fails (the group is gone) does not stop the watcher.
        watcher_entrypoint.beating(lambda: None, heartbeat, watcher_entrypoint.poll_metric(
            client, group, "other-pod", "optio-watcher"))()
        fake.groups.clear()
        watcher_entrypoint.beating(lambda: None, heartbeat, report)()
    finally:
        fake.stop()
