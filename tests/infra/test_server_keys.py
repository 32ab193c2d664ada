"""Optio's own keys (the admin token, the run-token key, the secrets key) in the synthesised
templates: in Secrets Manager, encrypted with the stack's key; never in a function's environment
(nor the watcher's), where only the secret's ARN is; each function's role may read exactly the
keys its code reads, the launcher only the secrets key (it unseals the agent's secrets from its
event), the trigger tick none."""
from __future__ import annotations

import json
import re
from typing import Any

import pytest

from .conftest import FUNCTIONS, STAGES, Assembly, as_list, resources, walk

pytestmark = [pytest.mark.xdist_group("infra"), pytest.mark.timeout(900)]

API_TOKEN, RUN_TOKEN_KEY, SECRETS_KEY, SETUP_TOKEN = "api-token", "run-token-secret", "secrets-key", "setup-token"
# What each function's code reads (chalicelib.settings.ServerKey through services.apikeys,
# engine.credentials, store.pages and store.secrets), stated here apart from the stack's KEYS_READ.
KEYS_READ = {
    "APIHandler": {API_TOKEN, RUN_TOKEN_KEY, SECRETS_KEY, SETUP_TOKEN},
    "ExecutionStream": {RUN_TOKEN_KEY, SECRETS_KEY},
    "Resync": {RUN_TOKEN_KEY, SECRETS_KEY},
    "ExecutionTimer": {RUN_TOKEN_KEY, SECRETS_KEY},
    "TicketSync": {SECRETS_KEY},
    "TriggerTick": set(),
    "Launcher": {SECRETS_KEY},
    "LogStream": set(),
    # The live logs' $connect checks an admin token as the API does, and the live tickets.
    "WebsocketConnect": {API_TOKEN, RUN_TOKEN_KEY},
    "WebsocketMessage": set(),
    "WebsocketDisconnect": set(),
}


def _env_of(short: str) -> str:
    """The variable naming a key's secret: api-token -> OPTIO_API_TOKEN_ARN."""
    return f"OPTIO_{short.upper().replace('-', '_')}_ARN"

# A literal that could be a key: one long run of base64/hex characters, letters and digits, nothing
# of a name, a URL or an ARN (no ":", "/" or ".").
KEY_LIKE = re.compile(r"^[A-Za-z0-9+_=-]{24,}$")
# Names a value of which would be a key. `..._ARN` names where a key is, which is no secret.
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|(?<!CA_)KEY")


def _literals(value: Any) -> list[str]:
    """The strings a value puts in the environment as written: itself, the parts of a join, a
    Sub's text; not the logical ids and attribute names of references."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict) and "Fn::Join" in value:
        return [s for part in value["Fn::Join"][1] for s in _literals(part)]
    if isinstance(value, dict) and "Fn::Sub" in value:
        return _literals(as_list(value["Fn::Sub"])[0])
    return []


def _key_like(text: str) -> bool:
    return bool(KEY_LIKE.match(text) and re.search(r"\d", text) and re.search(r"[A-Za-z]", text))


def _secrets_by_id(template: dict[str, Any], stage: str) -> dict[str, str]:
    """Secret logical id -> its short name (`api-token`, ...)."""
    return {k: r["Properties"]["Name"].removeprefix(f"optio/{stage}/")
            for k, r in resources(template, "AWS::SecretsManager::Secret").items()}


def _named(value: Any, secrets: dict[str, str]) -> set[str]:
    """The secrets a template value refers to."""
    return {secrets[v["Ref"]] for v in walk(value) if isinstance(v, dict) and v.get("Ref") in secrets}


def _readable(template: dict[str, Any], role: str, secrets: dict[str, str]) -> set[str]:
    """The secrets an Allow of GetSecretValue in the role's policies names; a wildcard resource
    would be every one of them."""
    documents = [p["PolicyDocument"] for p in template["Resources"][role]["Properties"].get("Policies") or []]
    documents += [p["Properties"]["PolicyDocument"] for p in resources(template, "AWS::IAM::Policy").values()
                  if {"Ref": role} in p["Properties"]["Roles"]]
    readable: set[str] = set()
    for statement in (s for d in documents for s in d["Statement"] if s["Effect"] == "Allow"):
        if not any(a in ("*", "secretsmanager:*", "secretsmanager:GetSecretValue") for a in as_list(statement["Action"])):
            continue
        for resource in as_list(statement["Resource"]):
            readable |= set(secrets.values()) if "*" in json.dumps(resource) else _named(resource, secrets)
    return readable


@pytest.mark.parametrize("stage", STAGES)
def test_keys_are_secrets_encrypted_with_the_stack_key(assembly: Assembly, stage: str) -> None:
    template = assembly.template(stage)
    secrets = resources(template, "AWS::SecretsManager::Secret")
    kept = set(_secrets_by_id(template, stage).values())
    assert kept >= {API_TOKEN, RUN_TOKEN_KEY, SECRETS_KEY, SETUP_TOKEN}
    assert kept <= {k for keys in KEYS_READ.values() for k in keys}, "a key was added: say which functions read it"
    assert all("KmsKeyId" in s["Properties"] for s in secrets.values())


@pytest.mark.parametrize("stage", STAGES)
def test_no_environment_holds_a_key(assembly: Assembly, stage: str) -> None:
    for name, template in assembly.all_templates().items():
        secrets = _secrets_by_id(template, stage) if name == f"{stage}.template.json" else {}
        functions = resources(template, *FUNCTIONS)
        assert functions or name != f"{stage}.template.json"
        for key, fn in functions.items():
            env = (fn["Properties"].get("Environment") or {}).get("Variables") or {}
            text = json.dumps(env)
            # A dynamic reference puts the value itself in the function's configuration.
            assert "resolve:secretsmanager" not in text and "SecretString" not in text, (name, key)
            for var, value in env.items():
                assert not (SECRET_NAME.search(var) and not var.endswith("_ARN")), (name, key, var)
                assert not any(map(_key_like, _literals(value))), (name, key, var)
                if var.endswith("_ARN") and _named(value, secrets):
                    # The ARN of a secret: a Ref, which is the ARN; never its value.
                    assert value == {"Ref": next(k for k, n in secrets.items() if n in _named(value, secrets))}
    # The watcher, in the cluster: its Deployment's environment too.
    template = assembly.template(stage)
    manifests = json.dumps([r["Properties"]["Manifest"] for r in
                            resources(template, "Custom::AWSCDK-EKS-KubernetesResource").values()])
    assert "resolve:secretsmanager" not in manifests and "SecretString" not in manifests


@pytest.mark.parametrize("stage", STAGES)
def test_each_role_reads_only_the_keys_its_function_reads(assembly: Assembly, stage: str) -> None:
    template = assembly.template(stage)
    secrets = _secrets_by_id(template, stage)
    functions = resources(template, "AWS::Serverless::Function")
    assert set(functions) <= set(KEYS_READ), "a function was added or renamed: say which keys it reads"
    for key, fn in functions.items():
        env = fn["Properties"]["Environment"]["Variables"]
        named = {short for short in secrets.values() if _env_of(short) in env}
        assert named == KEYS_READ[key], (key, named)
        for short in named:
            assert _named(env[_env_of(short)], secrets) == {short}, (key, short)
        role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
        assert _readable(template, role, secrets) == KEYS_READ[key], key
    # No other role of the stack reads a key, but the watcher's the secrets key (it reads
    # GITHUB_TOKEN from the secrets table).
    function_roles = {fn["Properties"]["Role"]["Fn::GetAtt"][0] for fn in functions.values()}
    others = {role: _readable(template, role, secrets) for role in resources(template, "AWS::IAM::Role")
              if role not in function_roles}
    assert {role: keys for role, keys in others.items() if keys} == {
        next(r for r in others if r.startswith("WatcherRole")): {SECRETS_KEY}}
