"""An attempt's network on EKS: a restricted one ("none", or "allow" with hosts and CIDRs) gets the
attempt's own NetworkPolicy, valid for a current Kubernetes release, written before its Job and
then owned by it; "internet" leaves the namespace's default alone."""
from __future__ import annotations

import dataclasses
from typing import Any

import kubernetes_validate
from kubernetes_validate.utils import latest_version

from chalicelib.launch import LaunchSpec
from chalicelib.launch.k8s_job import NETWORK_LABEL, job_manifest, job_name, network_policy_manifest
from chalicelib.launch.kubernetes import KubernetesLauncher
from tests.fakes.kubernetes_api import FakeKubernetes

from .support import JOBS

SPEC = LaunchSpec(execution_id="run-7f3a", attempt=1,
                  environment={"OPTIO_API_URL": "http://127.0.0.1:8080", "OPTIO_PROMPT": "report"})
OFFLINE = dataclasses.replace(SPEC, network="none")
ALLOWED = dataclasses.replace(SPEC, network="allow", allow=("203.0.113.0/24", "198.51.100.7", "localhost"))


def egress_cidrs(policy: dict[str, Any]) -> set[str]:
    return {peer["ipBlock"]["cidr"] for rule in policy["spec"]["egress"] for peer in rule["to"] if "ipBlock" in peer}


def test_the_policies_are_valid_and_select_only_the_attempts_pod() -> None:
    for spec in (OFFLINE, ALLOWED):
        policy = network_policy_manifest(spec, "optio", ["192.0.2.10/32"], ["203.0.113.0/24"], owner_uid="uid-1")
        kubernetes_validate.validate(policy, latest_version(), strict=True)
        pod = job_manifest(spec, JOBS)["spec"]["template"]["metadata"]["labels"]
        assert pod[NETWORK_LABEL] == spec.network
        assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod.items()
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in policy["spec"]
    assert NETWORK_LABEL not in job_manifest(SPEC, JOBS)["spec"]["template"]["metadata"]["labels"]


def test_none_reaches_only_dns_and_optios_api() -> None:
    policy = network_policy_manifest(OFFLINE, "optio", ["192.0.2.10/32"], ["203.0.113.0/24"])
    dns, https = policy["spec"]["egress"]
    assert {port["port"] for port in dns["ports"]} == {53}
    assert egress_cidrs(policy) == {"192.0.2.10/32"} and https["ports"] == [{"protocol": "TCP", "port": 443}]


def test_the_launcher_writes_the_policy_first_resolving_hosts(k8s: KubernetesLauncher,
                                                               cluster: FakeKubernetes) -> None:
    k8s.launch(ALLOWED)
    k8s.launch(ALLOWED)  # a second delivery of the same launch changes nothing

    name = job_name(ALLOWED.execution_id, ALLOWED.attempt)
    writes = [(r.method, r.path.rsplit("/", 2)[-2 if r.method == "PUT" else -1])
              for r in cluster.requests if "/networkpolicies" in r.path or "/jobs" in r.path]
    assert writes[:3] == [("POST", "networkpolicies"), ("POST", "jobs"), ("PUT", "networkpolicies")]
    policy, job = cluster.network_policy(name), cluster.job(name)
    assert policy is not None and job is not None
    assert policy["metadata"]["ownerReferences"][0]["uid"] == job["metadata"]["uid"]
    # The API's host and `localhost` resolved at launch; the CIDRs and the address as given.
    assert {"127.0.0.1/32", "203.0.113.0/24", "198.51.100.7/32"} <= egress_cidrs(policy)
    assert not {cidr for cidr in egress_cidrs(policy) if cidr.startswith("10.")}

    k8s.cancel(ALLOWED.execution_id, ALLOWED.attempt)
    assert cluster.network_policy(name) is None  # gone with its Job


def test_the_internet_writes_no_policy(k8s: KubernetesLauncher, cluster: FakeKubernetes) -> None:
    k8s.launch(SPEC)
    assert not [r for r in cluster.requests if "/networkpolicies" in r.path]


def test_the_lambda_payload_carries_the_network() -> None:
    restored = LaunchSpec.from_payload(ALLOWED.to_payload(lambda value: value), lambda value: value)
    assert (restored.network, restored.allow) == ("allow", ALLOWED.allow)
    assert LaunchSpec.from_payload({"executionId": "x", "attempt": 1, "environment": {}}, str).network == "internet"


def test_an_allow_list_never_reaches_the_metadata_service() -> None:
    wide = dataclasses.replace(SPEC, network="allow", allow=("0.0.0.0/0", "169.254.169.254", "10.20.0.0/16"))
    policy = network_policy_manifest(wide, "optio", ["192.0.2.10/32"],
                                     ["0.0.0.0/0", "169.254.169.254/32", "10.20.0.0/16", "::/0"])
    kubernetes_validate.validate(policy, latest_version(), strict=True)
    blocks = {peer["ipBlock"]["cidr"]: peer["ipBlock"].get("except") for rule in policy["spec"]["egress"]
              for peer in rule["to"] if "ipBlock" in peer}
    # The metadata address alone is dropped; a range holding it keeps it out; a private range stays whole.
    assert blocks == {"0.0.0.0/0": ["169.254.0.0/16"], "::/0": ["fd00:ec2::254/128"], "10.20.0.0/16": None,
                      "192.0.2.10/32": None}
