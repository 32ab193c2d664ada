"""The synthesised CloudFormation template as the topology mode reads it: the app's functions (the
SAM resources `chalice package` wrote), their event sources, and every value the template gives
them, with its intrinsic functions resolved to the local equivalents of what CloudFormation would
put there (table names, the stream's ARN, the cluster's endpoint, the API's URL), the secrets it
creates with their generated values, and which of them each function's role may read.
"""
from __future__ import annotations

import fnmatch
import re
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
URL_SUFFIX = "amazonaws.com"
# The id CloudFormation would give the RestApi; its execute-api host is the local front's stand-in.
REST_API_ID = "0pt10l0ca1"
WEBSOCKET_API_ID = "w5l1vel0ca"
EXECUTE_API_HOST = f"{REST_API_ID}.execute-api.{REGION}.{URL_SUFFIX}"
# A certificate authority for the cluster: the Kubernetes stand-in speaks plain HTTP, so the client
# never reads it, but the functions decode it as EKS gives it (base64 PEM).
CA_DATA = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K"
_SUB = re.compile(r"\$\{([^}!]+)\}")


@dataclass(frozen=True)
class Function:
    logical_id: str
    name: str  # FunctionName
    handler: str  # module.attribute
    timeout_s: int
    memory_mb: int
    code: Path  # the deployment package: a zip in the cloud assembly
    role: str  # the logical id of its IAM role
    layers: tuple[Path, ...]
    environment: Mapping[str, Any]  # unresolved, as the template has it
    events: Mapping[str, Any]


class Template:
    def __init__(self, assembly: Path, stage: str) -> None:
        import json

        self.assembly = assembly
        self.stage = stage
        self.body: dict[str, Any] = json.loads((assembly / f"{stage}.template.json").read_text())
        self.resources: dict[str, Any] = self.body["Resources"]
        # Local values of what CloudFormation creates: filled in by the deployment as it starts.
        self.attributes: dict[tuple[str, str], str] = {}
        self.refs: dict[str, str] = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT,
                                     "AWS::URLSuffix": URL_SUFFIX, "AWS::Partition": "aws",
                                     "AWS::StackName": f"optio-{stage}"}
        self.secret_values: dict[str, str] = {}

    # --- what the template declares ---------------------------------------------------------

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.resources.items() if r["Type"] == kind}

    def functions(self) -> list[Function]:
        result = []
        for logical_id, resource in self.of_type("AWS::Serverless::Function").items():
            props = resource["Properties"]
            result.append(Function(
                logical_id=logical_id, name=str(props["FunctionName"]), handler=str(props["Handler"]),
                timeout_s=int(props.get("Timeout", 3)), memory_mb=int(props.get("MemorySize", 128)),
                code=self._asset(props["CodeUri"]["Key"]), role=str(props["Role"]["Fn::GetAtt"][0]),
                layers=tuple(self._layer(layer) for layer in props.get("Layers") or []),
                environment=props.get("Environment", {}).get("Variables", {}),
                events=props.get("Events") or {}))
        return result

    def event_invoke_configs(self) -> dict[str, dict[str, Any]]:
        """Each function's asynchronous invocation settings (AWS::Lambda::EventInvokeConfig), by
        function name, references resolved."""
        return {str(self.resolve(r["Properties"]["FunctionName"])): self.resolve(r["Properties"])
                for r in self.of_type("AWS::Lambda::EventInvokeConfig").values()}

    def state_machines(self) -> dict[str, dict[str, Any]]:
        """Each state machine's ARN and definition (its DefinitionString resolved)."""
        import json

        machines = {}
        for resource in self.of_type("AWS::StepFunctions::StateMachine").values():
            props = resource["Properties"]
            arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{props['StateMachineName']}"
            machines[arn] = json.loads(str(self.resolve(props["DefinitionString"])))
        return machines

    def gateway_responses(self) -> dict[str, tuple[str | None, str]]:
        """The REST API's gateway responses: type -> (status code or None, JSON body template)."""
        return {str(r["Properties"]["ResponseType"]): (r["Properties"].get("StatusCode"),
                                                        r["Properties"]["ResponseTemplates"]["application/json"])
                for r in self.of_type("AWS::ApiGateway::GatewayResponse").values()}

    def rest_api(self) -> dict[str, Any]:
        [api] = self.of_type("AWS::Serverless::Api").values()
        return dict(api["Properties"])

    def _asset(self, key: str) -> Path:
        digest = key.removesuffix(".zip")
        for candidate in (self.assembly / f"asset.{digest}.zip", self.assembly / f"asset.{digest}"):
            if candidate.exists():
                return candidate
        raise FileNotFoundError(f"no asset {digest} in {self.assembly}")

    def _layer(self, ref: Any) -> Path:
        logical_id = ref["Ref"] if isinstance(ref, dict) and "Ref" in ref else None
        if logical_id is None:
            raise ValueError(f"a layer given as {ref!r}: only layers of the stack are supported")
        return self._asset(self.resources[logical_id]["Properties"]["Content"]["S3Key"])

    # --- resolving values -----------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: self.resolve(v) for k, v in value.items()}
        [(key, arg)] = value.items()
        if key == "Ref":
            return self._ref(str(arg))
        if key == "Fn::GetAtt":
            logical_id, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
            return self._attribute(logical_id, attribute)
        if key == "Fn::Join":
            separator, parts = arg
            return self.resolve(str(separator).join(str(self.resolve(p)) for p in parts))
        if key == "Fn::Select":
            index, items = arg
            return self.resolve(items)[int(self.resolve(index))]
        if key == "Fn::Split":
            separator, text = arg
            return str(self.resolve(text)).split(separator)
        if key == "Fn::Sub":
            text, names = (arg, {}) if isinstance(arg, str) else arg
            local = {k: str(self.resolve(v)) for k, v in names.items()}
            return self.resolve(_SUB.sub(lambda m: local.get(m[1]) or self._sub_name(m[1]), text))
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub_name(self, name: str) -> str:
        if "." in name:
            logical_id, attribute = name.split(".", 1)
            return self._attribute(logical_id, attribute)
        return self._ref(name)

    def _ref(self, name: str) -> str:
        if name in self.refs:
            return self.refs[name]
        resource = self.resources.get(name)
        if resource is None:
            raise KeyError(f"Ref to {name}: not in the template")
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::DynamoDB::Table":
            return str(props["TableName"])
        if kind == "AWS::SecretsManager::Secret":
            return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{props['Name']}-AbCdEf"
        if kind == "AWS::ECR::Repository":
            return str(props.get("RepositoryName") or f"optio-{self.stage}-{name.lower()}")
        if kind == "Custom::AWSCDK-EKS-Cluster":
            return str(props["Config"]["name"])
        if kind == "AWS::Serverless::Api":
            return REST_API_ID
        if kind == "AWS::ApiGatewayV2::Api":
            return WEBSOCKET_API_ID
        if kind == "AWS::Serverless::Function":
            return str(props["FunctionName"])
        if kind == "AWS::S3::Bucket":
            # CloudFormation's generated name: the stack's, the logical id's, a random suffix.
            return str(props.get("BucketName") or f"optio-{self.stage}-{name.lower()[:40]}-1a2b3c4d5e6f")
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.{URL_SUFFIX}/{ACCOUNT}/{props.get('QueueName', name)}"
        if kind == "AWS::Cognito::UserPool":
            return f"{REGION}_0pt10P00l"
        if kind == "AWS::Cognito::UserPoolClient":
            return "0pt10c1ient0000000000000"  # Cognito's generated client id: 26 characters
        raise KeyError(f"Ref to {name} ({kind}): no local equivalent")

    def _attribute(self, logical_id: str, attribute: str) -> str:
        known = self.attributes.get((logical_id, attribute))
        if known is not None:
            return known
        resource = self.resources[logical_id]
        kind = resource["Type"]
        if kind == "AWS::ECR::Repository" and attribute == "Arn":
            return f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{self._ref(logical_id)}"
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{self._ref(logical_id)}"
        if kind == "AWS::SQS::Queue" and attribute == "Arn":
            return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{resource['Properties'].get('QueueName', logical_id)}"
        if kind == "AWS::IAM::Role" and attribute == "Arn":
            return f"arn:aws:iam::{ACCOUNT}:role/{resource['Properties'].get('RoleName', logical_id)}"
        if kind == "AWS::Serverless::Function" and attribute == "Arn":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{resource['Properties']['FunctionName']}"
        if kind == "Custom::AWSCDK-EKS-Cluster" and attribute == "CertificateAuthorityData":
            return CA_DATA
        raise KeyError(f"{logical_id}.{attribute} ({kind}): not known yet in the local deployment")

    # --- secrets ---------------------------------------------------------------------------

    def generated_secrets(self) -> dict[str, tuple[str, str]]:
        """Every secret the template creates, by ARN: its name and a value generated once per
        deployment as Secrets Manager would (GenerateSecretString's length and alphabet)."""
        for logical_id, resource in self.of_type("AWS::SecretsManager::Secret").items():
            arn = self._ref(logical_id)
            if arn not in self.secret_values:
                spec = resource["Properties"]["GenerateSecretString"]
                alphabet = string.ascii_letters + string.digits
                if not spec.get("ExcludePunctuation"):
                    alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
                self.secret_values[arn] = "".join(secrets.choice(alphabet)
                                                  for _ in range(int(spec.get("PasswordLength", 32))))
        return {self._ref(k): (str(r["Properties"]["Name"]), self.secret_values[self._ref(k)])
                for k, r in self.of_type("AWS::SecretsManager::Secret").items()}

    def readable_secrets(self, role: str) -> set[str]:
        """The secrets (ARNs) a role may read: those an Allow of GetSecretValue in a policy
        attached to it names (IAM's wildcards matched as IAM matches them)."""
        arns = set(self.generated_secrets())
        readable: set[str] = set()
        for statement in self.role_statements(role):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if statement.get("Effect") != "Allow" or not any(
                    fnmatch.fnmatchcase("secretsmanager:GetSecretValue", a) for a in actions):
                continue
            granted = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for resource in granted:
                pattern = str(self.resolve(resource))
                readable |= {arn for arn in arns if fnmatch.fnmatchcase(arn, pattern)}
        return readable

    def role_statements(self, role: str) -> list[dict[str, Any]]:
        """The statements of the policies attached to a role: its own inline ones and the
        AWS::IAM::Policy resources naming it."""
        documents = [p["PolicyDocument"] for p in self.resources[role]["Properties"].get("Policies") or []]
        documents += [p["Properties"]["PolicyDocument"] for p in self.of_type("AWS::IAM::Policy").values()
                      if {"Ref": role} in p["Properties"].get("Roles", [])]
        return [statement for document in documents for statement in document["Statement"]]

    def dynamodb_grants(self, role: str) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
        """The role's Allow statements of DynamoDB actions: (actions, resources), resolved."""
        grants = []
        for statement in self.role_statements(role):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if statement.get("Effect") != "Allow" or not any(a.startswith("dynamodb:") or a == "*" for a in actions):
                continue
            granted = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            grants.append((tuple(actions), tuple(str(self.resolve(r)) for r in granted)))
        return grants
