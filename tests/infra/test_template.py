"""Assertions on the synthesised CloudFormation of both stages."""
from __future__ import annotations

import json
import os
import re
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from chalicelib.settings import settings
from chalicelib.store.tables import table_definitions

from .conftest import (
    ADMIN_ROLE,
    CUSTOM_DOMAIN,
    FUNCTIONS,
    IMPORTED_CLUSTER,
    STAGES,
    Assembly,
    as_list,
    cfn_lint,
    resources,
)

# Cold caches (infra/build) make the first synth reach PyPI: more than the suite's 300 s default.
pytestmark = [pytest.mark.xdist_group("infra"), pytest.mark.timeout(900)]

def _stream_function(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The executions table's stream function (the reconciler)."""
    (found,) = [(k, e["Properties"]) for k, r in resources(template, "AWS::Serverless::Function").items()
                for e in (r["Properties"].get("Events") or {}).values()
                if e["Type"] == "DynamoDB" and k == "ExecutionStream"]
    return found


def test_both_stages_synthesise(assembly: Assembly) -> None:
    for stage in STAGES:
        template = assembly.template(stage)
        assert template["Transform"] == "AWS::Serverless-2016-10-31"  # the Chalice app (SAM)
        assert resources(template, "AWS::Serverless::Api")


def test_cfn_lint_finds_no_errors(assembly: Assembly, imported: Assembly) -> None:
    files = [str(p) for p in assembly.template_files() + imported.template_files()]
    assert any(f.endswith("prod.template.json") for f in files)
    # Two linters at once (the main templates take most of the time): about half the wall time on 2 cores.
    big = sorted(files, key=lambda f: -os.path.getsize(f))
    groups = [big[0::2], big[1::2]]
    runs = [subprocess.Popen([cfn_lint(), "--format", "json", "--", *g], stdout=subprocess.PIPE, text=True)
            for g in groups if g]
    findings = [f for run in runs for f in json.loads(run.communicate(timeout=240)[0] or "[]")]
    errors = [f for f in findings if f["Level"] == "Error"]
    assert not errors, json.dumps(errors, indent=1)[:6000]


@pytest.mark.parametrize("stage", STAGES)
def test_tables_are_the_models_tables(assembly: Assembly, stage: str) -> None:
    tables = {r["Properties"]["TableName"]: r["Properties"]
              for r in resources(assembly.template(stage), "AWS::DynamoDB::Table").values()}
    definitions = {d["table_name"].removeprefix(settings.table_prefix): d for d in table_definitions()}
    assert set(tables) == {f"optio-{stage}-{short}" for short in definitions}
    for short, definition in definitions.items():
        table = tables[f"optio-{stage}-{short}"]
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert table["SSESpecification"]["SSEType"] == "KMS"
        assert table["SSESpecification"]["KMSMasterKeyId"]
        assert {(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]} == {
            (k["AttributeName"], k["KeyType"]) for k in definition["key_schema"]}
        assert {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]} == {
            a["AttributeName"]: a["AttributeType"] for a in definition["attribute_definitions"]}
        assert {g["IndexName"] for g in table.get("GlobalSecondaryIndexes", [])} == {
            g["index_name"] for g in definition["global_secondary_indexes"]}
        view = definition["stream_view_type"]
        assert table.get("StreamSpecification") == ({"StreamViewType": view} if view else None)
    assert tables[f"optio-{stage}-executions"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


@pytest.mark.parametrize("stage", STAGES)
def test_stream_function_handles_failures(assembly: Assembly, stage: str) -> None:
    template = assembly.template(stage)
    name, source = _stream_function(template)
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["BisectBatchOnFunctionError"] is True
    assert 0 <= source["MaximumRetryAttempts"] <= 10
    destination = source["DestinationConfig"]["OnFailure"]
    assert destination["Type"] == "SQS"
    (queue_id,) = [k for k in resources(template, "AWS::SQS::Queue")]
    assert destination["Destination"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    executions_id = next(k for k, r in resources(template, "AWS::DynamoDB::Table").items()
                    if r["Properties"]["TableName"] == f"optio-{stage}-executions")
    assert source["Stream"] == {"Fn::GetAtt": [executions_id, "StreamArn"]}
    env = template["Resources"][name]["Properties"]["Environment"]["Variables"]
    assert env["OPTIO_EXECUTIONS_STREAM_ARN"] == {"Fn::GetAtt": [executions_id, "StreamArn"]}


def _alarm_metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """(namespace, name, dimensions) of every metric an alarm reads, plain or in metric math."""
    props = alarm["Properties"]
    if "MetricName" in props:
        return [{"Namespace": props["Namespace"], "MetricName": props["MetricName"],
                 "Dimensions": props.get("Dimensions", [])}]
    return [m["MetricStat"]["Metric"] for m in props["Metrics"] if "MetricStat" in m]


@pytest.mark.parametrize("stage", STAGES)
def test_alarms(assembly: Assembly, stage: str) -> None:
    template = assembly.template(stage)
    alarms = list(resources(template, "AWS::CloudWatch::Alarm").values())
    metrics = [m for a in alarms for m in _alarm_metrics(a)]
    names = {(m["Namespace"], m["MetricName"]) for m in metrics}
    assert ("AWS/Lambda", "IteratorAge") in names
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in names
    # The rate of failed tasks: chalicelib.observability's TaskTransitions into `failed`.
    assert any(m["Namespace"] == "Optio" and m["MetricName"] == "TaskTransitions"
               and {"Name": "to", "Value": "failed"} in m["Dimensions"] for m in metrics)
    for fn in resources(template, "AWS::Serverless::Function"):
        for metric in ("Errors", "Throttles"):
            assert any(m["MetricName"] == metric and {"Name": "FunctionName", "Value": {"Ref": fn}} in m["Dimensions"]
                       for m in metrics), (fn, metric)


@pytest.mark.parametrize("stage", STAGES)
def test_dashboard_shows_tasks_by_state_time_to_start_and_cost(assembly: Assembly, stage: str) -> None:
    from chalicelib import observability
    from chalicelib.core.states import State

    (dashboard,) = resources(assembly.template(stage), "AWS::CloudWatch::Dashboard").values()
    body = json.loads(_join(dashboard["Properties"]["DashboardBody"]))
    metrics = [m for w in body["widgets"] for m in w.get("properties", {}).get("metrics", [])]
    # [namespace, name, dim, value, dim, value, ..., {options}]
    found = {(m[0], m[1], *[x for x in m[2:] if isinstance(x, str)]) for m in metrics if isinstance(m[0], str)}
    ns = observability.NAMESPACE
    for state in (State.QUEUED, State.RUNNING, State.PR_OPENED, State.FAILED):
        assert (ns, "TaskTransitions", "service", "optio", "to", state.value) in found, state
    assert (ns, "TimeToStartMs", "service", "optio") in found
    assert (ns, "TaskCostUsd", "service", "optio") in found


def test_no_wildcard_actions_and_no_tables_on_wildcard_resources(assembly: Assembly) -> None:
    for name, template in assembly.all_templates().items():
        for key, policy in resources(template, "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy").items():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = as_list(statement.get("Action", []))
                assert not [a for a in actions if a == "*" or a.endswith(":*")], (name, key, statement)
                if any(str(a).startswith("dynamodb:") for a in actions):
                    assert "*" not in as_list(statement["Resource"]), (name, key, statement)


def test_every_lambda_has_a_log_retention(assembly: Assembly) -> None:
    for name, template in assembly.all_templates().items():
        groups = resources(template, "AWS::Logs::LogGroup")
        for key, fn in resources(template, *FUNCTIONS).items():
            ref = fn["Properties"].get("LoggingConfig", {}).get("LogGroup", {}).get("Ref")
            assert ref in groups, (name, key)
            assert groups[ref]["Properties"]["RetentionInDays"] > 0, (name, key)


@pytest.mark.parametrize("stage", STAGES)
def test_kubernetes_client_is_a_layer_not_in_the_app_package(assembly: Assembly, stage: str) -> None:
    template = assembly.template(stage)
    (layer_id,) = [k for k, r in resources(template, "AWS::Lambda::LayerVersion").items()
                   if "kubernetes" in r["Properties"].get("Description", "")]
    functions = resources(template, "AWS::Serverless::Function")
    launcher = next(r for r in functions.values()
                    if r["Properties"]["FunctionName"] == f"optio-{stage}-launcher")
    assert {"Ref": layer_id} in launcher["Properties"]["Layers"]
    code = {json.dumps(r["Properties"]["CodeUri"]) for r in functions.values()}
    assert len(code) == 1  # one package for every function
    manifest = json.loads((assembly.out / f"{stage}.assets.json").read_text())
    zips = [assembly.out / f["source"]["path"] for f in manifest["files"].values()
            if f["source"]["path"].endswith(".zip")]
    app_zip = next(z for z in zips if _has(z, "app.py"))
    assert not _has(app_zip, "kubernetes/__init__.py")
    assert _has(app_zip, "pynamodb/__init__.py")


def _has(path: Path, member: str) -> bool:
    if path.is_dir():
        return (path / member).exists() or (path / "python" / member).exists()
    with zipfile.ZipFile(path) as z:
        return member in z.namelist()


@pytest.mark.parametrize("stage", STAGES)
def test_cluster_resources(assembly: Assembly, stage: str) -> None:
    template = assembly.template(stage)
    manifests = [json.loads(_join(r["Properties"]["Manifest"]))
                 for r in resources(template, "Custom::AWSCDK-EKS-KubernetesResource").values()]
    kinds = {(m["kind"], m["metadata"]["name"]) for ms in manifests for m in ms}
    assert {("Namespace", "optio"), ("ServiceAccount", "optio-runner"), ("Deployment", "optio-watcher")} <= kinds
    # The agents' keys are written per attempt by the launcher (a Secret owned by the Job), never
    # kept in the cluster by the stack.
    assert not {kind for kind, _ in kinds} & {"Secret"}
    watcher = next(m for ms in manifests for m in ms if m["kind"] == "Deployment")
    container = watcher["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "/app/watcher_entrypoint.py"]  # -> chalicelib.forge.watcher
    assert {e["name"] for e in container["env"]} >= {"OPTIO_TABLE_PREFIX", "OPTIO_SECRETS_KEY_ARN"}
    assert len(resources(template, "AWS::ECR::Repository")) == 2


def _join(value: Any) -> str:
    """A manifest is a Fn::Join of literal JSON and tokens: put placeholders in for the tokens."""
    if isinstance(value, str):
        return value
    parts = value["Fn::Join"][1]
    return "".join(p if isinstance(p, str) else "TOKEN" for p in parts)


def test_no_wildcard_table_access_in_inline_roles(assembly: Assembly) -> None:
    for name, template in assembly.all_templates().items():
        for key, role in resources(template, "AWS::IAM::Role").items():
            for policy in role["Properties"].get("Policies", []):
                for statement in policy["PolicyDocument"]["Statement"]:
                    actions = as_list(statement.get("Action", []))
                    assert not [a for a in actions if re.fullmatch(r"\*|[a-z0-9-]+:\*", a)], (name, key)


@pytest.mark.parametrize("stage", STAGES)
def test_every_model_has_its_table_and_ttl_where_rows_expire(assembly: Assembly, stage: str) -> None:
    from pynamodb.attributes import TTLAttribute

    from chalicelib.store.models import ALL_MODELS

    tables = {r["Properties"]["TableName"]: r["Properties"]
              for r in resources(assembly.template(stage), "AWS::DynamoDB::Table").values()}
    assert f"optio-{stage}-executions" in tables and f"optio-{stage}-workflow-runs" not in tables
    for model in ALL_MODELS:
        table = tables[f"optio-{stage}-" + model.Meta.table_name.removeprefix(settings.table_prefix)]
        ttl = [a.attr_name for a in model.get_attributes().values() if isinstance(a, TTLAttribute)]
        expected = {"AttributeName": ttl[0], "Enabled": True} if ttl else None
        assert table.get("TimeToLiveSpecification") == expected, model.__name__


@pytest.mark.parametrize("stage", STAGES)
def test_schedule_functions(assembly: Assembly, stage: str) -> None:
    functions = resources(assembly.template(stage), "AWS::Serverless::Function")
    schedules = {r["Properties"]["FunctionName"]: e["Properties"]["Schedule"] for r in functions.values()
                 for e in (r["Properties"].get("Events") or {}).values() if e["Type"] == "Schedule"}
    assert schedules == {f"optio-{stage}-{name}": "rate(1 minute)"
                         for name in ("resync", "ticket-sync", "trigger-tick")}


@pytest.mark.parametrize("stage", STAGES)
def test_timeouts_fit_their_callers(assembly: Assembly, stage: str) -> None:
    functions = {r["Properties"]["FunctionName"]: r["Properties"]
                 for r in resources(assembly.template(stage), "AWS::Serverless::Function").values()}
    (api,) = [props for props in functions.values() if props["Handler"] == "app.app"]
    # API Gateway answers 504 at 29 s: the function must finish (and log why) before that.
    assert api["Timeout"] < 29
    # The resync runs every minute and never beside itself.
    resync = functions[f"optio-{stage}-resync"]
    assert resync["Timeout"] < 60 and resync["ReservedConcurrentExecutions"] == 1


@pytest.mark.parametrize("stage", STAGES)
def test_created_cluster(assembly: Assembly, stage: str) -> None:
    template = assembly.template(stage)
    (cluster_id,) = resources(template, "Custom::AWSCDK-EKS-Cluster")
    config = template["Resources"][cluster_id]["Properties"]["Config"]
    assert config["accessConfig"]["authenticationMode"] == "API_AND_CONFIG_MAP"  # access entries work
    assert config["encryptionConfig"][0]["resources"] == ["secrets"]
    # A version in EKS standard support ($0.10 an hour, not extended support's $0.60).
    assert config["version"] == "1.36"
    (nodes,) = resources(template, "AWS::EKS::Nodegroup").values()
    assert nodes["Properties"]["ScalingConfig"]["MinSize"] >= 1
    functions = resources(template, "AWS::Serverless::Function")
    for key in ("OPTIO_EKS_CLUSTER_NAME", "OPTIO_EKS_ENDPOINT", "OPTIO_EKS_CA_DATA"):
        assert all(cluster_id in json.dumps(f["Properties"]["Environment"]["Variables"][key])
                   for f in functions.values()), key
    # The functions that talk to the cluster are in the launcher group by an access entry each.
    entries = [e["Properties"] for e in resources(template, "AWS::EKS::AccessEntry").values()]
    (admin,) = [e for e in entries if e["PrincipalArn"] == ADMIN_ROLE]  # the deployer's kubectl
    assert admin["AccessPolicies"][0]["PolicyArn"]["Fn::Join"][1][-1].endswith("AmazonEKSClusterAdminPolicy")
    entries.remove(admin)
    assert sorted(json.dumps(e["PrincipalArn"]) for e in entries) == sorted(
        json.dumps(f["Properties"]["Role"]) for f in functions.values()
        if f["Properties"]["FunctionName"].removeprefix(f"optio-{stage}-") in CLUSTER_CALLERS)
    assert all(e["KubernetesGroups"] == ["optio-launcher"] for e in entries)
    # The cluster's endpoint is public too: no function needs a VPC (nor pays for its cold starts).
    assert not [k for k, f in functions.items() if "VpcConfig" in f["Properties"]]
    # No Secret of agent keys in the cluster: the launcher writes each attempt's, owned by its Job.
    manifests = [json.loads(_join(r["Properties"]["Manifest"]))
                 for r in resources(template, "Custom::AWSCDK-EKS-KubernetesResource").values()]
    assert not [m for ms in manifests for m in ms if m["kind"] == "Secret"]


# The functions that call the cluster (chalicelib/launch through the engine): the reconciler's (the
# stream, the resync, the timers' wake-ups: pod status) and the launcher (creating and deleting
# Jobs, a person's cancel in the API included). The API, the ticket sync and the trigger tick don't.
CLUSTER_CALLERS = {"execution-stream", "resync", "execution-timer", "launcher"}


def test_existing_private_cluster_puts_every_function_that_calls_it_in_its_vpc(imported: Assembly) -> None:
    template = imported.template("prod")
    assert not resources(template, "Custom::AWSCDK-EKS-Cluster", "AWS::EKS::Nodegroup", "AWS::EC2::VPC")
    functions = {r["Properties"]["FunctionName"].removeprefix("optio-prod-"): r["Properties"]
                 for r in resources(template, "AWS::Serverless::Function").values()}
    callers = {name: f for name, f in functions.items() if name in CLUSTER_CALLERS}
    assert {"execution-stream", "resync", "launcher"} <= set(callers)
    assert {"api-handler", "ticket-sync", "trigger-tick"} <= set(functions) - set(callers)
    in_vpc = {name for name, f in functions.items() if "VpcConfig" in f}
    assert in_vpc == set(callers)
    for name, f in callers.items():
        assert f["VpcConfig"] == {"SubnetIds": IMPORTED_CLUSTER["subnetIds"].split(","),
                                  "SecurityGroupIds": IMPORTED_CLUSTER["securityGroupIds"].split(",")}, name
        assert f["Layers"], name  # the kubernetes client
        # Lambda creates the function's network interfaces with its role.
        role = template["Resources"][f["Role"]["Fn::GetAtt"][0]]["Properties"]
        assert any("AWSLambdaVPCAccessExecutionRole" in json.dumps(arn)
                   for arn in role.get("ManagedPolicyArns", [])), name
    for name, f in functions.items():
        assert f["Environment"]["Variables"]["OPTIO_EKS_CLUSTER_NAME"] == "existing"
        assert f["Environment"]["Variables"]["OPTIO_EKS_ENDPOINT"] == IMPORTED_CLUSTER["clusterEndpoint"]
        if name not in callers:
            assert not f.get("Layers"), name
    entries = [e["Properties"] for e in resources(template, "AWS::EKS::AccessEntry").values()]
    assert all(e["ClusterName"] == "existing" for e in entries)
    assert sorted(json.dumps(e["PrincipalArn"]) for e in entries) == sorted(
        json.dumps(f["Role"]) for f in callers.values())


def test_a_custom_domain_serves_the_stage_at_its_root_and_runners_report_there(assembly: Assembly,
                                                                               imported: Assembly) -> None:
    template = imported.template("prod")
    [domain] = resources(template, "AWS::ApiGateway::DomainName").values()
    assert domain["Properties"]["DomainName"] == CUSTOM_DOMAIN["domainName"]
    assert domain["Properties"]["RegionalCertificateArn"] == CUSTOM_DOMAIN["certificateArn"]
    [mapping] = resources(template, "AWS::ApiGateway::BasePathMapping").values()
    # No base path: the stage's routes (/api/...) and the dashboard (/) at the domain's root.
    assert "BasePath" not in mapping["Properties"]
    assert mapping["Properties"]["RestApiId"] == {"Ref": "RestAPI"}
    assert mapping["Properties"]["Stage"] == {"Ref": "RestAPI.Stage"}
    for key, fn in resources(template, "AWS::Serverless::Function").items():
        env = fn["Properties"]["Environment"]["Variables"]
        if key != "APIHandler":  # which answers at the URL each request came in by
            assert env["OPTIO_API_URL"] == f"https://{CUSTOM_DOMAIN['domainName']}", key
    assert template["Outputs"]["ApiUrl"]["Value"] == f"https://{CUSTOM_DOMAIN['domainName']}"
    assert not resources(assembly.template("prod"), "AWS::ApiGateway::DomainName")


@pytest.mark.parametrize("stage", STAGES)
def test_service_accounts_use_irsa(assembly: Assembly, stage: str) -> None:
    template = assembly.template(stage)
    manifests = [m for r in resources(template, "Custom::AWSCDK-EKS-KubernetesResource").values()
                 for m in json.loads(_join(r["Properties"]["Manifest"]))]
    accounts = {m["metadata"]["name"]: m for m in manifests if m["kind"] == "ServiceAccount"}
    assert set(accounts) >= {"optio-runner", "optio-watcher"}
    roles = resources(template, "AWS::IAM::Role")
    web_identity = [k for k, r in roles.items()
                    if any(s["Action"] == "sts:AssumeRoleWithWebIdentity"
                           for s in r["Properties"]["AssumeRolePolicyDocument"]["Statement"])]
    assert len(web_identity) == 2
    raw = json.dumps([r["Properties"]["Manifest"] for r in
                      resources(template, "Custom::AWSCDK-EKS-KubernetesResource").values()])
    for role in web_identity:
        assert json.dumps({"Fn::GetAtt": [role, "Arn"]}) in raw  # eks.amazonaws.com/role-arn


@pytest.mark.parametrize("stage", STAGES)
def test_key_and_least_privilege(assembly: Assembly, stage: str) -> None:
    template = assembly.template(stage)
    (key,) = resources(template, "AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
    functions = resources(template, "AWS::Serverless::Function")
    roles = {k: r["Properties"]["Role"]["Fn::GetAtt"][0] for k, r in functions.items()}
    assert len(set(roles.values())) == len(roles)  # a role per function
    policies = resources(template, "AWS::IAM::Policy").values()

    def actions_of(role: str) -> set[str]:
        return {a for p in policies if {"Ref": role} in p["Properties"]["Roles"]
                for st in p["Properties"]["PolicyDocument"]["Statement"] for a in as_list(st["Action"])}

    launcher = next(k for k, r in functions.items() if r["Properties"]["FunctionName"].endswith("-launcher"))
    assert not [a for a in actions_of(roles[launcher]) if a.startswith("dynamodb:")]
    # Lambda invokes its on-failure destination, the timer function, with its role: that function only.
    invokes = [st["Resource"] for p in policies if {"Ref": roles[launcher]} in p["Properties"]["Roles"]
               for st in p["Properties"]["PolicyDocument"]["Statement"]
               if any(a.startswith("lambda:") for a in as_list(st["Action"]))]
    assert invokes == [{"Fn::GetAtt": ["ExecutionTimer", "Arn"]}]
    stream = _stream_function(template)[0]
    assert "dynamodb:GetRecords" in actions_of(roles[stream])
    assert "sqs:SendMessage" in actions_of(roles[stream])
    for name, role in roles.items():
        if name not in (stream, "LogStream"):  # the live logs' function reads the logs table's stream
            assert "dynamodb:GetRecords" not in actions_of(role), name
        if name != stream:
            assert "sqs:SendMessage" not in actions_of(role), name


@pytest.mark.parametrize("stage", STAGES)
def test_every_component_on_aws_is_in_the_template(assembly: Assembly, stage: str) -> None:
    """ARCHITECTURE.md "Components on AWS", one by one."""
    template = assembly.template(stage)
    functions = {r["Properties"]["FunctionName"]: r["Properties"]
                 for r in resources(template, "AWS::Serverless::Function").values()}
    # REST API, webhook hooks, dashboard pages: API Gateway + the API function.
    assert resources(template, "AWS::Serverless::Api") and f"optio-{stage}-api-handler" in functions
    # State-change fan-out: the executions stream -> the stream function.
    assert any(e["Type"] == "DynamoDB" for e in functions[f"optio-{stage}-execution-stream"]["Events"].values())
    # Cron triggers, resync, retries due, ticket sync: EventBridge schedules (test_schedule_functions).
    # The pod launcher, invoked asynchronously by the others, with the kubernetes client.
    launcher = functions[f"optio-{stage}-launcher"]
    assert launcher["Layers"]
    assert all(f["Environment"]["Variables"]["OPTIO_LAUNCHER_FUNCTION"] == f"optio-{stage}-launcher"
               for f in functions.values())
    # The agent: the runner image's repository, and the Jobs' service account (test_service_accounts).
    repos = {r["Properties"]["RepositoryName"] for r in resources(template, "AWS::ECR::Repository").values()}
    assert repos == {f"optio-{stage}-runner", f"optio-{stage}-watcher"}
    assert all("optio-runner" in json.dumps(f["Environment"]["Variables"]["OPTIO_RUNNER_IMAGE"])
               or "RunnerRepository" in json.dumps(f["Environment"]["Variables"]["OPTIO_RUNNER_IMAGE"])
               for f in functions.values())
    # PR status: the watcher Deployment (test_cluster_resources).
    # Monitoring: JSON logs with a retention, X-Ray, alarms, dashboard.
    assert all(f["Tracing"] == "Active" and f["LoggingConfig"]["LogFormat"] == "JSON" for f in functions.values())
    assert resources(template, "AWS::CloudWatch::Alarm") and resources(template, "AWS::CloudWatch::Dashboard")


def _statements_of(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [st for p in resources(template, "AWS::IAM::Policy").values() if {"Ref": role} in p["Properties"]["Roles"]
            for st in p["Properties"]["PolicyDocument"]["Statement"]]


@pytest.mark.parametrize("stage", STAGES)
def test_sessions_bucket_is_private_encrypted_expiring_and_only_the_api_reaches_it(assembly: Assembly,
                                                                                   stage: str) -> None:
    template = assembly.template(stage)
    ((bucket_id, bucket),) = resources(template, "AWS::S3::Bucket").items()
    (key_id,) = resources(template, "AWS::KMS::Key")
    props = bucket["Properties"]
    [sse] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert sse["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms",
                                                    "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]}}
    assert props["PublicAccessBlockConfiguration"] == {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                                       "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    [rule] = props["LifecycleConfiguration"]["Rules"]
    assert (rule["Status"], rule["ExpirationInDays"]) == ("Enabled", 30)
    assert bucket["DeletionPolicy"] == ("Retain" if stage == "prod" else "Delete")
    [policy] = [p["Properties"]["PolicyDocument"]["Statement"] for p in
                resources(template, "AWS::S3::BucketPolicy").values() if p["Properties"]["Bucket"] == {"Ref": bucket_id}]
    assert any(st["Effect"] == "Deny" and st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for st in policy)

    functions = resources(template, "AWS::Serverless::Function")
    holders = {k: f["Properties"]["Role"]["Fn::GetAtt"][0] for k, f in functions.items()
               if "OPTIO_SESSIONS_BUCKET" in f["Properties"]["Environment"]["Variables"]}
    assert list(holders) == ["APIHandler"]
    assert functions["APIHandler"]["Properties"]["Environment"]["Variables"]["OPTIO_SESSIONS_BUCKET"] == {
        "Ref": bucket_id}
    reach = {}
    for role in resources(template, "AWS::IAM::Role"):
        on_bucket = [st for st in _statements_of(template, role) if bucket_id in json.dumps(st["Resource"])]
        if on_bucket:
            reach[role] = {a for st in on_bucket for a in as_list(st["Action"])}
    assert reach == {holders["APIHandler"]: {"s3:PutObject", "s3:GetObject", "s3:ListBucket"}}


@pytest.mark.parametrize("stage", STAGES)
def test_agent_pods_may_invoke_the_chosen_bedrock_models_only(assembly: Assembly, imported: Assembly,
                                                              stage: str) -> None:
    template = assembly.template(stage)
    roles = resources(template, "AWS::IAM::Role")
    [runner_role] = [k for k, r in roles.items() if k.startswith("RunnerRole")]
    bedrock = [st for role in roles for st in _statements_of(template, role)
               if any(str(a).startswith("bedrock:") for a in as_list(st["Action"]))]
    assert [(st["Effect"], sorted(st["Action"])) for st in bedrock] == [
        ("Allow", ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"])]
    assert bedrock[0] in _statements_of(template, runner_role)
    arns = json.dumps(bedrock[0]["Resource"])
    assert "foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0" in arns
    assert "inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0" in arns
    assert "bedrock:*::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0" in arns
    assert len(as_list(bedrock[0]["Resource"])) == 3 and '"*"' not in arns
    # A deploy that names no models gives the pods no Bedrock access at all.
    assert "bedrock:" not in json.dumps(imported.template("prod"))


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_waits_for_its_roles_policies(assembly: Assembly, stage: str) -> None:
    # The roles are set by property override: only DependsOn tells CloudFormation that a function,
    # and so what SAM makes of its events (the stream's event source mapping, the schedules' rules
    # and permissions, which refer to the function), must wait for the policy that lets it read the
    # stream ("Cannot access stream" on a first deploy otherwise). SAM gives the function's
    # DependsOn to the AWS::Lambda::Function it generates.
    template = assembly.template(stage)
    policies = resources(template, "AWS::IAM::Policy")
    with_events = set()
    for key, fn in resources(template, "AWS::Serverless::Function").items():
        role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
        attached = {p for p, r in policies.items() if {"Ref": role} in r["Properties"]["Roles"]}
        assert attached, key
        assert {role, *attached} <= set(as_list(fn.get("DependsOn", []))), (key, attached)
        if fn["Properties"].get("Events"):
            with_events.add(key)
    assert len(with_events) == 5  # the two streams and the three schedules
    stream_role = template["Resources"][_stream_function(template)[0]]["Properties"]["Role"]["Fn::GetAtt"][0]
    assert any("dynamodb:GetRecords" in as_list(st["Action"]) for st in _statements_of(template, stream_role))


# What `make destroy` of prod leaves: the data, and the key that encrypts it. Nothing else in either
# stage: the destroy must finish (a kept cluster, node group, role or security group stops the VPC's
# deletion) and the next deploy must not collide with what it left.
# The user pool holds people's sign-ins: the users table binds each to the pool's issuer and subject.
KEPT_IN_PROD = {"AWS::DynamoDB::Table", "AWS::SecretsManager::Secret", "AWS::S3::Bucket", "AWS::KMS::Key",
                "AWS::Cognito::UserPool"}
NAME_PROPERTIES = {"AWS::DynamoDB::Table": "TableName", "AWS::SecretsManager::Secret": "Name",
                   "AWS::S3::Bucket": "BucketName", "AWS::KMS::Key": None, "AWS::Cognito::UserPool": None}


def _account_wide(template: dict[str, Any]) -> set[str]:
    """The account's API Gateway setting and its CloudWatch role: every API of the account (the
    other stage's too) logs through them, so no stage's destroy takes them (README "Deploy to AWS")."""
    found = set()
    for key, account in resources(template, "AWS::ApiGateway::Account").items():
        found |= {key, account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]}
    return found


def _removal(resource: dict[str, Any]) -> tuple[str, str]:
    # CloudFormation's default for both is Delete for every type these templates hold.
    return resource.get("DeletionPolicy", "Delete"), resource.get("UpdateReplacePolicy", "Delete")


def _stage_templates(assembly: Assembly, stage: str) -> dict[str, dict[str, Any]]:
    """The stage's template and its nested stacks' (the EKS providers)."""
    found = {name: t for name, t in assembly.all_templates().items() if name.startswith(stage)}
    assert f"{stage}.template.json" in found
    return found


def test_dev_tears_down_completely(assembly: Assembly) -> None:
    for name, template in _stage_templates(assembly, "dev").items():
        for key, resource in template["Resources"].items():
            expected = ("Retain", "Retain") if key in _account_wide(template) else ("Delete", "Delete")
            assert _removal(resource) == expected, (name, key, resource["Type"])
    template = assembly.template("dev")
    assert all(t["Properties"]["DeletionProtectionEnabled"] is False
               for t in resources(template, "AWS::DynamoDB::Table").values())
    assert all(r["Properties"]["EmptyOnDelete"] is True for r in resources(template, "AWS::ECR::Repository").values())
    assert resources(template, "Custom::S3AutoDeleteObjects")  # the sessions bucket is emptied, then deleted


@pytest.mark.parametrize("which", ["created cluster", "existing cluster"])
def test_prod_keeps_its_data_and_nothing_else(assembly: Assembly, imported: Assembly, which: str) -> None:
    chosen = assembly if which == "created cluster" else imported
    kept: dict[str, str] = {}
    for name, template in _stage_templates(chosen, "prod").items():
        for key, resource in template["Resources"].items():
            kept_anyway = resource["Type"] in KEPT_IN_PROD or key in _account_wide(template)
            expected = ("Retain", "Retain") if kept_anyway else ("Delete", "Delete")
            assert _removal(resource) == expected, (name, key, resource["Type"])
            if resource["Type"] in KEPT_IN_PROD:
                prop = NAME_PROPERTIES[resource["Type"]]
                kept[key] = resource["Properties"].get(prop, "") if prop else ""
    template = chosen.template("prod")
    assert {r["Type"] for k, r in template["Resources"].items() if k in kept} == KEPT_IN_PROD
    # What is kept by name is what the README's restore names: the tables and the secrets; the
    # bucket and the key have generated names, so a new deploy never collides with them.
    tables = {f"optio-prod-{d['table_name'].removeprefix(settings.table_prefix)}" for d in table_definitions()}
    secrets = {f"optio/prod/{s}" for s in ("api-token", "run-token-secret", "secrets-key", "setup-token")}
    assert {v for v in kept.values() if v} == tables | secrets
    assert all(t["Properties"]["DeletionProtectionEnabled"] is True
               for t in resources(template, "AWS::DynamoDB::Table").values())
    # The repositories are deleted with their images (a repository with images cannot be deleted).
    assert all(r["Properties"]["EmptyOnDelete"] is True for r in resources(template, "AWS::ECR::Repository").values())
    # The key's alias is not kept: `alias/optio-prod` is free for the next deploy.
    assert all(_removal(a) == ("Delete", "Delete") for a in resources(template, "AWS::KMS::Alias").values())


# Measured with `make bench-packages` (bench/packages.py) on the slimmed package, 2026-12-02: the peak
# RSS of a fresh interpreter that imports a function's handler (every handler imports `app`), and of
# one that also imports the kubernetes client, as a function that talks to the cluster does on its
# first status, cancel or launch. HEADROOM is for what the measurement leaves out: Lambda's runtime
# client (about 30 MB), the AWS clients made on the first call and an invocation's own data.
MEASURED_PEAK_MIB = {"init": 38, "init and kubernetes client": 55}
HEADROOM_MB = 192


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_is_sized_from_its_measured_peak(assembly: Assembly, stage: str) -> None:
    config = json.loads((Path(__file__).resolve().parents[2] / ".chalice" / "config.json").read_text())
    sized = config["stages"][stage]["lambda_functions"]
    functions = resources(assembly.template(stage), "AWS::Serverless::Function")
    assert len(sized) == len(functions)
    for key, fn in functions.items():
        props = fn["Properties"]
        name = props["FunctionName"].removeprefix(f"optio-{stage}-").replace("-", "_")
        assert {"lambda_memory_size", "lambda_timeout"} <= set(sized[name]), name  # explicit, per function
        peak = MEASURED_PEAK_MIB["init and kubernetes client" if props.get("Layers") else "init"]
        assert props["MemorySize"] == sized[name]["lambda_memory_size"] >= peak + HEADROOM_MB, key
        assert props["Timeout"] == sized[name]["lambda_timeout"], key


@pytest.mark.parametrize("stage", STAGES)
def test_wake_ups_wait_in_a_standard_workflow_then_invoke_the_timer_function(assembly: Assembly, stage: str) -> None:
    template = assembly.template(stage)
    [(machine_id, machine)] = resources(template, "AWS::StepFunctions::StateMachine").items()
    props = machine["Properties"]
    assert props["StateMachineName"] == f"optio-{stage}-timers" and props.get("StateMachineType", "STANDARD") == "STANDARD"
    definition = json.loads(flatten(props["DefinitionString"]))
    first = definition["States"][definition["StartAt"]]
    assert first["Type"] == "Wait" and first["TimestampPath"] == "$.dueAt"
    task = definition["States"][first["Next"]]
    assert task["Type"] == "Task" and task["Resource"].endswith(f":function:optio-{stage}-execution-timer")
    assert task.get("End") is True and task["Retry"]
    functions = resources(template, "AWS::Serverless::Function")
    for key, fn in functions.items():
        env = fn["Properties"]["Environment"]["Variables"]
        if key == "Launcher":
            assert "OPTIO_TIMERS_STATE_MACHINE_ARN" not in env
            continue
        assert flatten(env["OPTIO_TIMERS_STATE_MACHINE_ARN"]).endswith(f":stateMachine:optio-{stage}-timers"), key
    starts = [flatten(s.get("Resource")) for p in resources(template, "AWS::IAM::Policy").values()
              for s in p["Properties"]["PolicyDocument"]["Statement"] if "states:StartExecution" in str(s["Action"])]
    assert len(starts) == len(functions) - 1 and all(r.endswith(f":stateMachine:optio-{stage}-timers") for r in starts)
    assert machine_id in functions["ExecutionTimer"].get("DependsOn", [])


def flatten(value: Any) -> str:
    """A CloudFormation string expression as text, references as ${...}."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(flatten(p) for p in parts)
    if isinstance(value, dict) and "Ref" in value:
        return "${" + str(value["Ref"]) + "}"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    return json.dumps(value)


@pytest.mark.parametrize("stage", STAGES)
def test_the_rest_api_compresses_responses_from_1_kib(assembly: Assembly, stage: str) -> None:
    # The dashboard's scripts and styles (and the API's larger JSON) go gzipped to a browser that
    # accepts it (.chalice/config.json's minimum_compression_size; the local server does the same).
    [api] = resources(assembly.template(stage), "AWS::Serverless::Api").values()
    assert api["Properties"]["MinimumCompressionSize"] == 1024


@pytest.mark.parametrize("stage", STAGES)
def test_the_live_logs_websocket_api_its_stream_and_grants(assembly: Assembly, stage: str) -> None:
    """README "Live updates": a WebSocket API whose $connect, messages and $disconnect reach their
    functions; the logs table's stream feeds the log stream function; only the senders may post to
    connections, of this API's stage only; connection rows expire."""
    template = assembly.template(stage)
    [(api_id, api)] = resources(template, "AWS::ApiGatewayV2::Api").items()
    assert api["Properties"]["ProtocolType"] == "WEBSOCKET"
    routes = {r["Properties"]["RouteKey"] for r in resources(template, "AWS::ApiGatewayV2::Route").values()}
    assert routes == {"$connect", "$default", "$disconnect"}
    [stage_props] = [s["Properties"] for s in resources(template, "AWS::ApiGatewayV2::Stage").values()]
    assert stage_props["AccessLogSettings"]["DestinationArn"]
    tables = resources(template, "AWS::DynamoDB::Table")
    logs_id = next(k for k, r in tables.items() if r["Properties"]["TableName"] == f"optio-{stage}-execution-logs")
    assert tables[logs_id]["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    live = next(r for r in tables.values() if r["Properties"]["TableName"] == f"optio-{stage}-live-connections")
    assert live["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    functions = resources(template, "AWS::Serverless::Function")
    [log_stream] = [e["Properties"] for e in (functions["LogStream"]["Properties"].get("Events") or {}).values()]
    assert log_stream["Stream"] == {"Fn::GetAtt": [logs_id, "StreamArn"]}
    posting = set()
    for key, fn in functions.items():
        env = fn["Properties"]["Environment"]["Variables"]
        assert api_id in json.dumps(env["OPTIO_LIVE_URL"]), key
        role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
        for statement in _statements_of(template, role):
            if "execute-api:ManageConnections" in as_list(statement["Action"]):
                posting.add(key)
                resource = json.dumps(statement["Resource"])
                assert api_id in resource and "/api/POST/@connections/*" in resource, resource
    assert posting == {"ExecutionStream", "LogStream", "WebsocketMessage"}


@pytest.mark.parametrize("stage", STAGES)
def test_the_rest_api_sends_what_no_resource_matches_to_the_api_function(assembly: Assembly, stage: str) -> None:
    # The app's catch-all (its own 404 page outside /api): a greedy GET resource with its path
    # parameter declared, integrated with the API function as every route is.
    from chalicelib.api.dashboard import CATCH_ALL

    [api] = resources(assembly.template(stage), "AWS::Serverless::Api").values()
    paths = api["Properties"]["DefinitionBody"]["paths"]
    assert CATCH_ALL == "/{proxy+}" and set(paths[CATCH_ALL]) == {"get"}
    catch_all = paths[CATCH_ALL]["get"]
    assert catch_all["parameters"] == [{"name": "proxy", "in": "path", "required": True, "type": "string"}]
    assert catch_all["x-amazon-apigateway-integration"] == paths["/tasks"]["get"]["x-amazon-apigateway-integration"]
    assert catch_all["x-amazon-apigateway-integration"]["type"] == "aws_proxy"
