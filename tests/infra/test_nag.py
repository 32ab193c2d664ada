"""cdk-nag's AwsSolutions pack (infra/app.py adds it to every synth, which an unacknowledged finding
fails) leaves no finding standing: each one is fixed or acknowledged with its reason in
infra/optio_infra/stack.py."""
from __future__ import annotations

import json

import pytest

from tests.infra.conftest import Assembly


def _violations(assembly: Assembly) -> list[str]:
    report = json.loads((assembly.out / "validation-report.json").read_text())
    return [f"{p['pluginName']}: {v['ruleName']} at {c['constructPath']}" for p in report["pluginReports"]
            for v in p["violations"] for c in v["violatingConstructs"]]


def _acknowledged(assembly: Assembly) -> dict[str, set[str]]:
    """Rule id -> the reasons given for it, across the stacks' templates (nested ones too)."""
    found: dict[str, set[str]] = {}
    for template in assembly.all_templates().values():
        for resource in template["Resources"].values():
            for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
                found.setdefault(rule["id"], set()).add(rule["reason"])
    return found


@pytest.mark.parametrize("which", ["assembly", "imported"])
def test_no_finding_stands(which: str, request: pytest.FixtureRequest) -> None:
    assert _violations(request.getfixturevalue(which)) == []


@pytest.mark.parametrize("which", ["assembly", "imported"])
def test_every_acknowledgement_gives_its_reason(which: str, request: pytest.FixtureRequest) -> None:
    acknowledged = _acknowledged(request.getfixturevalue(which))
    # The pack ran and its acknowledgements reached the templates: the secrets' rotation is one.
    assert "AwsSolutions-SMG4" in acknowledged
    assert {rule for rule, reasons in acknowledged.items() if not all(len(r) > 40 for r in reasons)} == set()
    # An IAM finding is acknowledged by its evidence, never by the bare rule (which would let any
    # new wildcard or managed policy in the same place pass).
    assert {"AwsSolutions-IAM4", "AwsSolutions-IAM5"} & set(acknowledged) == set()
