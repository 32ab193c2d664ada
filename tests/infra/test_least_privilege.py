"""Least privilege (issue 17, point 3) in the synthesised templates: each function's role and the
watcher's grant exactly the tables, indexes and DynamoDB actions its code reaches
(infra/optio_infra/access.py reads them from the code; tests/topology/test_least_privilege.py runs
the functions behind a DynamoDB that refuses anything else), and every use of the stack's key is
tied to a service (kms:ViaService) and to the resources that service names in its encryption
context."""
from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from .conftest import INFRA, STAGES, Assembly, as_list, resources

sys.path.append(str(INFRA))
from optio_infra.access import WATCHER, Access, access_of, function_access, reach_of  # noqa: E402

pytestmark = [pytest.mark.xdist_group("infra"), pytest.mark.timeout(900)]


def _statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [st for p in resources(template, "AWS::IAM::Policy").values() if {"Ref": role} in p["Properties"]["Roles"]
            for st in p["Properties"]["PolicyDocument"]["Statement"]]


def _table_of(template: dict[str, Any], resource: Any, stage: str) -> tuple[str, str | None]:
    """A statement's resource as (table, index or None): `Fn::GetAtt [Table, Arn]`, or that
    joined with `/index/<name>`."""
    index = None
    if isinstance(resource, dict) and "Fn::Join" in resource:
        getatt, suffix = resource["Fn::Join"][1]
        index, resource = suffix.removeprefix("/index/"), getatt
    logical_id, attribute = resource["Fn::GetAtt"]
    table = template["Resources"][logical_id]
    assert table["Type"] == "AWS::DynamoDB::Table" and attribute == "Arn", resource
    return table["Properties"]["TableName"].removeprefix(f"optio-{stage}-"), index


def _granted(template: dict[str, Any], role: str, stage: str) -> dict[tuple[str, str | None], set[str]]:
    """(table, index) -> the DynamoDB actions the role's Allow statements give on it (the stream's
    records are the stream's ARN, not a table's: apart)."""
    granted: dict[tuple[str, str | None], set[str]] = {}
    for statement in _statements(template, role):
        actions = {a for a in as_list(statement["Action"]) if a.startswith("dynamodb:")}
        resources_ = as_list(statement["Resource"])
        if not actions or all("StreamArn" in json.dumps(r) for r in resources_):
            continue
        assert statement["Effect"] == "Allow" and not any("*" in a for a in actions), statement
        for resource in resources_:
            granted.setdefault(_table_of(template, resource, stage), set()).update(actions)
    return granted


def _expected(access: Access) -> dict[tuple[str, str | None], set[str]]:
    expected: dict[tuple[str, str | None], set[str]] = {(t, None): set(access.actions) for t in access.tables}
    if access.index_actions:
        expected.update({(t, i): set(access.index_actions) for t, i in access.indexes})
    return expected


def _roles(template: dict[str, Any]) -> dict[str, str]:
    """Each function (by logical id) and the watcher -> its role's logical id."""
    roles = {k: f["Properties"]["Role"]["Fn::GetAtt"][0]
             for k, f in resources(template, "AWS::Serverless::Function").items()}
    [watcher] = [k for k in resources(template, "AWS::IAM::Role") if k.startswith("WatcherRole")]
    return {**roles, WATCHER: watcher}


@pytest.mark.parametrize("stage", STAGES)
def test_each_role_grants_the_tables_indexes_and_actions_its_code_reaches(assembly: Assembly, stage: str) -> None:
    template = assembly.template(stage)
    derived = function_access()
    roles = _roles(template)
    assert set(roles) == set(derived), "a function the derivation does not know, or one it invents"
    for name, role in roles.items():
        assert _granted(template, role, stage) == _expected(derived[name]), name
    # What least privilege gains here: the launcher reaches no table; the schedules not the users'.
    assert not derived["Launcher"].tables
    assert "users" not in derived["TriggerTick"].tables | derived["ExecutionStream"].tables
    assert derived["ExecutionStream"].tables < derived["APIHandler"].tables


def test_the_derivation_follows_what_the_code_names() -> None:
    # store.secrets' unseal (the launcher's) is pure; its listing scans the secrets table.
    assert access_of(reach_of([("chalicelib.store.secrets", "unseal")])).tables == frozenset()
    listing = access_of(reach_of([("chalicelib.store.secrets", "names")]))
    assert listing.tables == {"secrets"} and "dynamodb:Scan" in listing.actions
    # An index is granted when its attribute is named on its model.
    claims = access_of(reach_of([("chalicelib.store.users", None)]))
    assert ("users", "email-index") in claims.indexes


@pytest.mark.parametrize("stage", STAGES)
def test_every_use_of_the_key_names_its_service_and_resources(assembly: Assembly, stage: str) -> None:
    template = assembly.template(stage)
    [(key_id, key)] = resources(template, "AWS::KMS::Key").items()
    services_seen: set[str] = set()
    # Optio's roles (CDK's own, the cluster's creation role for its secrets encryption, are CDK's).
    for role in _roles(template).values():
        for statement in _statements(template, role):
            actions = [a for a in as_list(statement["Action"]) if a.startswith("kms:")]
            if not actions or key_id not in json.dumps(statement["Resource"]):
                continue
            condition = statement.get("Condition", {}).get("StringEquals", {})
            via = json.dumps(condition.get("kms:ViaService"))
            assert via != "null", (role, statement)
            service = via.split(".")[0].strip('"')
            services_seen.add(service)
            context = [k for k in condition if k.startswith("kms:EncryptionContext:")]
            # DescribeKey carries no context; everything else names its resource.
            assert context or actions == ["kms:DescribeKey"], (role, statement)
            assert not any("*" in a for a in actions), (role, statement)
    assert services_seen >= {"dynamodb", "secretsmanager", "lambda", "sqs", "s3"}
    [logs] = [st for st in key["Properties"]["KeyPolicy"]["Statement"]
              if "logs." in json.dumps(st.get("Principal", {}))]
    assert "kms:EncryptionContext:aws:logs:arn" in logs["Condition"]["ArnLike"]
