"""Assertions on the synthesised CloudFormation of both stages."""
from __future__ import annotations

import json
import re
import subprocess
import zipfile
from typing import Any

import pytest

from chalicelib.settings import settings
from chalicelib.store.tables import table_definitions

from .conftest import STAGES, Assembly, cfn_lint, resources

pytestmark = pytest.mark.xdist_group("infra")

FUNCTIONS = ("AWS::Lambda::Function", "AWS::Serverless::Function")


def _walk(value: Any) -> list[Any]:
    found = [value]
    if isinstance(value, dict):
        for v in value.values():
            found += _walk(v)
    elif isinstance(value, list):
        for v in value:
            found += _walk(v)
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _stream_function(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (found,) = [(k, e["Properties"]) for k, r in resources(template, "AWS::Serverless::Function").items()
                for e in (r["Properties"].get("Events") or {}).values() if e["Type"] == "DynamoDB"]
    return found


def test_both_stages_synthesise(assembly: Assembly) -> None:
    for stage in STAGES:
        template = assembly.template(stage)
        assert template["Transform"] == "AWS::Serverless-2016-10-31"  # the Chalice app (SAM)
        assert resources(template, "AWS::Serverless::Api")


def test_cfn_lint_finds_no_errors(assembly: Assembly) -> None:
    files = [str(p) for p in assembly.template_files()]
    assert any(f.endswith("prod.template.json") for f in files)
    result = subprocess.run([cfn_lint(), "--format", "json", "--", *files], capture_output=True, text=True,
                            timeout=240)
    findings = json.loads(result.stdout or "[]")
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
    assert tables[f"optio-{stage}-tasks"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


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
    tasks_id = next(k for k, r in resources(template, "AWS::DynamoDB::Table").items()
                    if r["Properties"]["TableName"] == f"optio-{stage}-tasks")
    assert source["Stream"] == {"Fn::GetAtt": [tasks_id, "StreamArn"]}
    env = template["Resources"][name]["Properties"]["Environment"]["Variables"]
    assert env["OPTIO_TASKS_STREAM_ARN"] == {"Fn::GetAtt": [tasks_id, "StreamArn"]}


@pytest.mark.parametrize("stage", STAGES)
def test_alarms(assembly: Assembly, stage: str) -> None:
    template = assembly.template(stage)
    alarms = list(resources(template, "AWS::CloudWatch::Alarm").values())
    metrics = {(a["Properties"]["Namespace"], a["Properties"]["MetricName"]) for a in alarms}
    assert ("AWS/Lambda", "IteratorAge") in metrics
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in metrics
    assert ("Optio", "TasksFailed") in metrics
    for fn in resources(template, "AWS::Serverless::Function"):
        for metric in ("Errors", "Throttles"):
            assert any(a["Properties"]["MetricName"] == metric
                       and {"Name": "FunctionName", "Value": {"Ref": fn}} in a["Properties"]["Dimensions"]
                       for a in alarms), (fn, metric)
    assert resources(template, "AWS::CloudWatch::Dashboard")


def test_no_wildcard_actions_and_no_tables_on_wildcard_resources(assembly: Assembly) -> None:
    for name, template in assembly.all_templates().items():
        for key, policy in resources(template, "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy").items():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = _as_list(statement.get("Action", []))
                assert not [a for a in actions if a == "*" or a.endswith(":*")], (name, key, statement)
                if any(str(a).startswith("dynamodb:") for a in actions):
                    assert "*" not in _as_list(statement["Resource"]), (name, key, statement)


def test_every_lambda_has_a_log_retention(assembly: Assembly) -> None:
    for name, template in assembly.all_templates().items():
        groups = resources(template, "AWS::Logs::LogGroup")
        for key, fn in resources(template, *FUNCTIONS).items():
            ref = fn["Properties"].get("LoggingConfig", {}).get("LogGroup", {}).get("Ref")
            assert ref in groups, (name, key)
            assert groups[ref]["Properties"]["RetentionInDays"] > 0, (name, key)


@pytest.mark.parametrize("stage", STAGES)
def test_secrets_come_from_secrets_manager_encrypted_with_the_key(assembly: Assembly, stage: str) -> None:
    template = assembly.template(stage)
    secrets = resources(template, "AWS::SecretsManager::Secret")
    assert len(secrets) == 3 and all("KmsKeyId" in s["Properties"] for s in secrets.values())
    for key, fn in resources(template, "AWS::Serverless::Function").items():
        env = fn["Properties"]["Environment"]["Variables"]
        for var in ("OPTIO_API_TOKEN", "OPTIO_RUN_TOKEN_SECRET", "OPTIO_SECRETS_KEY"):
            text = json.dumps(env[var])
            assert "{{resolve:secretsmanager:" in text, (key, var, text)
        assert fn["Properties"]["KmsKeyArn"], key


def test_a_generated_secrets_key_is_a_fernet_key() -> None:
    from cryptography.fernet import Fernet

    # What Secrets Manager generates (43 letters and digits) and the stack appends ("=").
    Fernet(("Ab3" * 15)[:43] + "=").encrypt(b"x")


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


def _has(path: Any, member: str) -> bool:
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
    assert {("Namespace", "optio"), ("ServiceAccount", "optio-runner"), ("Secret", "optio-agent-secrets"),
            ("Deployment", "optio-watcher")} <= kinds
    watcher = next(m for ms in manifests for m in ms if m["kind"] == "Deployment")
    container = watcher["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "chalicelib.forge.watcher"]
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
                    actions = _as_list(statement.get("Action", []))
                    assert not [a for a in actions if re.fullmatch(r"\*|[a-z0-9-]+:\*", a)], (name, key)
