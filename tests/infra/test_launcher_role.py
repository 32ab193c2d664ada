"""The launcher's Role in the agents' namespace lets it write every object a launch writes
(chalicelib.launch.kubernetes): the attempt's Job, Secret and, for a restricted network, its
NetworkPolicy; anything less and the first such launch is refused by the API server (403)."""
from __future__ import annotations

import pytest

from .conftest import STAGES, Assembly
from .test_isolation import _manifests

pytestmark = [pytest.mark.xdist_group("infra"), pytest.mark.timeout(900)]


def allows(rules: list[dict[str, list[str]]], group: str, resource: str, verbs: set[str]) -> bool:
    return any(group in rule["apiGroups"] and resource in rule["resources"] and verbs <= set(rule["verbs"])
               for rule in rules)


@pytest.mark.parametrize("stage", STAGES)
def test_the_launcher_may_write_what_a_launch_writes(assembly: Assembly, stage: str) -> None:
    [role] = [m for m in _manifests(assembly.template(stage)) if m["kind"] == "Role"]
    assert allows(role["rules"], "batch", "jobs", {"create", "get", "delete"})
    assert allows(role["rules"], "", "secrets", {"create", "update"})
    assert allows(role["rules"], "networking.k8s.io", "networkpolicies", {"create", "update"})
