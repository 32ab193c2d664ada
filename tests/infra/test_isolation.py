"""Agent pods assume the agent is hostile (issue 17, point 1): the namespace enforces Pod Security
`restricted` and every pod put there meets it (the agents' Jobs, the watcher); a NetworkPolicy,
enforced by the VPC CNI of a created cluster, lets them reach DNS and HTTPS on the internet only;
nodes answer the metadata service with IMDSv2 and one hop only."""
from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from chalicelib.launch import LaunchSpec
from chalicelib.launch.k8s_job import NETWORK_LABEL, JobSettings, job_manifest, job_name
from tests.fakes.kubernetes_api import FakeKubernetes
from tests.launch.support import kubernetes_launcher

from .conftest import INFRA, STAGES, Assembly, resources
from .test_template import _join

pytestmark = [pytest.mark.xdist_group("infra"), pytest.mark.timeout(900)]


def _manifests(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for r in resources(template, "Custom::AWSCDK-EKS-KubernetesResource").values()
            for m in json.loads(_join(r["Properties"]["Manifest"]))]


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """What keeps a pod spec out of Pod Security `restricted` (the Kubernetes documentation's
    "Pod Security Standards", baseline and restricted controls, as of v1.36)."""
    found = []
    pod_sc = pod.get("securityContext") or {}
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(flag):
            found.append(flag)
    allowed_volumes = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                       "projected", "secret"}
    for volume in pod.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= allowed_volumes:
            found.append(f"volume {volume['name']}: {kinds - allowed_volumes}")
    containers = [*(pod.get("initContainers") or []), *pod["containers"]]
    for c in containers:
        sc = c.get("securityContext") or {}
        name = c["name"]
        if sc.get("privileged"):
            found.append(f"{name}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            found.append(f"{name}: allowPrivilegeEscalation must be false")
        if (sc.get("capabilities") or {}).get("drop") != ["ALL"]:
            found.append(f"{name}: capabilities must drop ALL")
        if set((sc.get("capabilities") or {}).get("add") or []) - {"NET_BIND_SERVICE"}:
            found.append(f"{name}: adds capabilities")
        if not sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")):
            found.append(f"{name}: runAsNonRoot")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            found.append(f"{name}: runAsUser 0")
        seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            found.append(f"{name}: seccompProfile {seccomp}")
        if any(p.get("hostPort") for p in c.get("ports") or []):
            found.append(f"{name}: hostPort")
    return found


JOBS = JobSettings(namespace="optio", image="runner:1", service_account="optio-runner", deadline_s=3600,
                   ttl_s=600, schedule_timeout_s=300)


def test_the_checker_finds_what_restricted_refuses() -> None:
    # The watcher as it was before issue 17: capabilities kept, no seccomp profile.
    before = {"securityContext": {"runAsNonRoot": True, "runAsUser": 1000},
              "containers": [{"name": "watcher", "securityContext": {"allowPrivilegeEscalation": False}}]}
    assert restricted_violations(before) == ["watcher: capabilities must drop ALL",
                                             "watcher: seccompProfile None"]


def test_agent_jobs_meet_pod_security_restricted() -> None:
    spec = LaunchSpec(execution_id="7c9e6679-7425-40de-944b-e07fc1f90ae7", attempt=1,
                      environment={"OPTIO_PROMPT": "Fix it"}, secrets={"GITHUB_TOKEN": "ghp_x"})
    pod = job_manifest(spec, JOBS)["spec"]["template"]["spec"]
    assert restricted_violations(pod) == []
    assert pod["automountServiceAccountToken"] is False


@pytest.mark.parametrize("stage", STAGES)
def test_the_namespace_enforces_restricted_and_the_watcher_meets_it(assembly: Assembly, stage: str) -> None:
    manifests = _manifests(assembly.template(stage))
    [namespace] = [m for m in manifests if m["kind"] == "Namespace"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    [watcher] = [m for m in manifests if m["kind"] == "Deployment"]
    pod = watcher["spec"]["template"]["spec"]
    assert restricted_violations(pod) == []
    assert pod["automountServiceAccountToken"] is False
    [container] = pod["containers"]
    probe = container["livenessProbe"]["exec"]["command"]
    assert probe[:3] == ["python", "/app/watcher_entrypoint.py", "--alive"] and float(probe[3]) > 90


def _reachable(policy: dict[str, Any], address: str, port: int, protocol: str = "TCP") -> bool:
    """Whether an egress NetworkPolicy spec lets a pod open (address, port) by an ipBlock rule."""
    ip = ipaddress.ip_address(address)
    for rule in policy.get("egress", []):
        ports = rule.get("ports")
        if ports is not None and not any(p.get("protocol", "TCP") == protocol and p.get("port") == port
                                         for p in ports):
            continue
        for peer in rule.get("to", []):
            block = peer.get("ipBlock")
            if block and ip in ipaddress.ip_network(block["cidr"]) and not any(
                    ip in ipaddress.ip_network(e) for e in block.get("except", [])):
                return True
    return False


@pytest.mark.parametrize("stage", STAGES)
def test_agents_reach_dns_and_https_on_the_internet_only(assembly: Assembly, stage: str) -> None:
    template = assembly.template(stage)
    [policy] = [m for m in _manifests(template) if m["kind"] == "NetworkPolicy"]
    assert policy["metadata"]["namespace"] == "optio"
    spec = policy["spec"]
    # Every pod but an attempt's with a network of its own (which its own policy alone governs).
    assert spec["podSelector"] == {"matchExpressions": [{"key": NETWORK_LABEL, "operator": "DoesNotExist"}]}
    assert set(spec["policyTypes"]) == {"Ingress", "Egress"}
    assert not spec.get("ingress")  # nothing reaches an agent
    [vpc] = resources(template, "AWS::EC2::VPC").values()
    vpc_host = str(next(ipaddress.ip_network(vpc["Properties"]["CidrBlock"]).hosts()))
    config = next(iter(resources(template, "Custom::AWSCDK-EKS-Cluster").values()))["Properties"]["Config"]
    # EKS picks 10.100.0.0/16 or 172.20.0.0/16 for services when the cluster names none.
    service_range = (config.get("kubernetesNetworkConfig") or {}).get("serviceIpv4Cidr")
    services = [service_range] if service_range else ["10.100.0.0/16", "172.20.0.0/16"]
    never = ["169.254.169.254", "169.254.170.2", vpc_host, "100.64.0.10",
             *[str(next(ipaddress.ip_network(r).hosts())) for r in services]]
    for address in never:
        for port in (443, 80, 53):
            assert not _reachable(spec, address, port), address
    # Optio's API (API Gateway), GitHub, the model providers: public addresses, HTTPS.
    for public in ("140.82.112.3", "52.94.236.248", "160.79.104.10"):
        assert _reachable(spec, public, 443), public
        assert not _reachable(spec, public, 22) and not _reachable(spec, public, 80), public
    [dns] = [r for r in spec["egress"] if any("podSelector" in p for p in r["to"])]
    assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}


GITHUB, PRIVATE_ENDPOINT, METADATA, API = "140.82.112.3", "10.20.0.5", "169.254.169.254", "127.0.0.1"


def test_on_the_cluster_each_network_reaches_what_it_says(assembly: Assembly, tmp_path: Path) -> None:
    """The namespace's default as synthesised and each attempt's own policy as the launcher writes
    it, enforced by the Kubernetes stand-in as a network plugin would: "internet" is the default's
    (public HTTPS); "none" reaches only Optio's API; an allow list with a private range (the opt-out
    for private endpoints) reaches it; the metadata service stays out of reach for all three."""
    [default] = [m for m in _manifests(assembly.template("dev")) if m["kind"] == "NetworkPolicy"]
    cluster = FakeKubernetes().start()
    try:
        cluster.network_policies[("optio", default["metadata"]["name"])] = default
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(json.dumps(cluster.kubeconfig()))
        launcher = kubernetes_launcher(kubeconfig)
        base = LaunchSpec(execution_id="run-internet", attempt=1,
                          environment={"OPTIO_API_URL": f"http://{API}:8080", "OPTIO_PROMPT": "report"})
        specs = {"internet": base, "none": dataclasses.replace(base, execution_id="run-none", network="none"),
                 "private": dataclasses.replace(base, execution_id="run-private", network="allow",
                                                allow=("10.20.0.0/16", "0.0.0.0/0"))}
        pods = {}
        for key, spec in specs.items():
            launcher.launch(spec)
            [pods[key]] = cluster.pods_of(job_name(spec.execution_id, spec.attempt))

        def reach(key: str, address: str, port: int = 443) -> bool:
            return cluster.egress_allowed(pods[key], address, port)

        assert reach("internet", GITHUB) and not reach("internet", PRIVATE_ENDPOINT)
        assert reach("none", API) and not reach("none", GITHUB) and not reach("none", PRIVATE_ENDPOINT)
        assert reach("private", PRIVATE_ENDPOINT) and reach("private", GITHUB) and not reach("private", PRIVATE_ENDPOINT, 22)
        assert not any(reach(key, METADATA, port) for key in specs for port in (80, 443))
        # Were the default to select every pod (as before), "none" would keep its HTTPS to the internet.
        default["spec"]["podSelector"] = {}
        assert reach("none", GITHUB)
    finally:
        cluster.stop()


@pytest.mark.parametrize("stage", STAGES)
def test_created_cluster_enforces_network_policy_and_imdsv2_one_hop(assembly: Assembly, stage: str) -> None:
    template = assembly.template(stage)
    [addon] = [a["Properties"] for a in resources(template, "AWS::EKS::Addon").values()
               if a["Properties"]["AddonName"] == "vpc-cni"]
    assert json.loads(addon["ConfigurationValues"]) == {"enableNetworkPolicy": "true"}
    [(template_id, launch)] = resources(template, "AWS::EC2::LaunchTemplate").items()
    metadata = launch["Properties"]["LaunchTemplateData"]["MetadataOptions"]
    assert metadata["HttpTokens"] == "required" and metadata["HttpPutResponseHopLimit"] == 1
    [nodes] = resources(template, "AWS::EKS::Nodegroup").values()
    assert nodes["Properties"]["LaunchTemplate"]["Id"] == {"Ref": template_id}
    assert "DiskSize" not in nodes["Properties"]  # the launch template's volume instead
    [volume] = launch["Properties"]["LaunchTemplateData"]["BlockDeviceMappings"]
    assert volume["Ebs"]["Encrypted"] is True


ENTRYPOINT = INFRA / "watcher_entrypoint.py"


def _alive(heartbeat: Path, stale_s: int) -> int:
    env = {**os.environ, "OPTIO_WATCHER_HEARTBEAT": str(heartbeat)}
    return subprocess.run([sys.executable, str(ENTRYPOINT), "--alive", str(stale_s)], env=env,
                          timeout=60).returncode


def test_the_watchers_liveness_follows_its_last_poll(tmp_path: Path) -> None:
    sys.path.insert(0, str(INFRA))
    try:
        import watcher_entrypoint
    finally:
        sys.path.remove(str(INFRA))
    heartbeat = tmp_path / "polled"
    assert _alive(heartbeat, 90) == 1  # never polled

    def failing_poll() -> None:
        raise RuntimeError("GitHub answered 403: rate limited")

    with pytest.raises(RuntimeError):
        watcher_entrypoint.beating(failing_poll, heartbeat)()
    assert _alive(heartbeat, 90) == 0  # a poll that failed is a poll
    long_ago = time.time() - 91
    os.utime(heartbeat, (long_ago, long_ago))
    assert _alive(heartbeat, 90) == 1
    assert watcher_entrypoint.beating(lambda: "passed", heartbeat)() == "passed"
    assert _alive(heartbeat, 90) == 0


@pytest.mark.parametrize("stage", STAGES)
def test_every_manifest_of_the_stack_is_valid_for_the_clusters_kubernetes_strictly(assembly: Assembly,
                                                                                   stage: str) -> None:
    import kubernetes_validate

    template = assembly.template(stage)
    config = next(iter(resources(template, "Custom::AWSCDK-EKS-Cluster").values()))["Properties"]["Config"]
    manifests = _manifests(template)
    assert {m["kind"] for m in manifests} >= {"Namespace", "ServiceAccount", "Role", "RoleBinding", "Deployment",
                                              "NetworkPolicy"}
    for manifest in manifests:
        # Unknown fields are errors (strict), not ignored as the API server's apply would.
        kubernetes_validate.validate(manifest, f"{config['version']}.0", strict=True)
