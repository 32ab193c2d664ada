"""Optio as the synthesised template deploys it, on this machine.

Every function of the template runs in an execution environment of its own (a process with the
function's deployment package and layers from the cloud assembly, its handler, and its
environment exactly as the template sets it, references resolved to the local equivalents); the
tables are created from the template's definitions in DynamoDB Local, which the functions reach
through a proxy that refuses what their roles do not allow (tests/topology/dynamodb_iam.py); the
functions reach DynamoDB and Lambda through the SDK's standard endpoint variables (`AWS_ENDPOINT_URL_<SERVICE>`);
the API's execute-api host is the loopback API Gateway stand-in, S3 a stand-in of its own
(tests/topology/s3.py); the EKS cluster is the
Kubernetes stand-in, which runs each Job's runner as a process (its manifests from the template
applied first); Secrets Manager is a stand-in serving the secrets the template creates, each
to the functions whose role may read it (every function signs with an access key of its own)."""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from chalicelib.local.stream_poller import StreamPoller
from tests.conftest import FAKES
from tests.fakes.apigatewaymanagementapi import FakeManagementApi
from tests.fakes.lambda_api import FakeLambda
from tests.fakes.secretsmanager_api import FakeSecretsManager
from tests.fakes.stepfunctions_api import FakeStepFunctions
from tests.support.waiting import wait_for

from .aws import ApiGateway, FunctionEndpoint, Schedule, lambda_service
from .dynamodb_iam import Grant, IamDynamoDB
from .pods import PodRunningCluster
from .s3 import FakeS3
from .template import ACCOUNT, EXECUTE_API_HOST, REGION, Function, Template

RUNTIME = Path(__file__).resolve().parent / "lambda_runtime.py"
# What Lambda's Python runtime brings besides the standard library (its own site-packages): the
# rest must be in the function's package or layers, and here too nothing else is on the path.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")
# EventBridge's `rate(1 minute)`, locally: the schedules tick this often.
MINUTE_S = 1.0
# Any key will do: the stand-ins check no signatures, and nothing may reach real AWS. Each function
# signs with an access key id of its own (access_key_of), which is how Secrets Manager's stand-in
# and the DynamoDB proxy tell which role is asking.
CREDENTIALS = {"AWS_SECRET_ACCESS_KEY": "topology", "AWS_SESSION_TOKEN": "topology"}


# The watcher's pod signs with its IRSA role's credentials: this access key stands for that role.
WATCHER_ACCESS_KEY = "ASIAWATCHER"


def access_key_of(function: Function) -> str:
    return f"ASIA{function.logical_id.upper()}"
logger = logging.getLogger("optio.topology")


@dataclass
class Deployment:
    template: Template
    work: Path
    dynamodb_endpoint: str
    gateway: ApiGateway | None = None
    # The same API on a custom domain, its base path mapping at the root (the stage stripped).
    custom_domain: ApiGateway | None = None
    cluster: PodRunningCluster | None = None
    lambda_api: FakeLambda | None = None
    s3: FakeS3 | None = None
    step_functions: FakeStepFunctions | None = None
    secrets_manager: FakeSecretsManager | None = None
    dynamodb: IamDynamoDB | None = None
    management_api: FakeManagementApi | None = None
    functions: dict[str, FunctionEndpoint] = field(default_factory=dict)
    environments: dict[str, dict[str, str]] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    sources: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The stage URL `make deploy` prints (the ApiUrl output)."""
        assert self.gateway is not None
        return self.gateway.url

    @property
    def remotes(self) -> Path:
        """Where the repositories at https://github.com/<owner>/<name> live: <owner>/<name>.git."""
        return self.work / "remotes"

    @property
    def token(self) -> str:
        """The admin token: the API's secret, as `make deploy`'s reader gets it from Secrets Manager."""
        return self.template.generated_secrets()[self.environments["APIHandler"]["OPTIO_API_TOKEN_ARN"]][1]

    def log(self, logical_id: str) -> str:
        return (self.work / "logs" / f"{logical_id}.log").read_text()

    # --- bringing it up ---------------------------------------------------------------------

    def start(self) -> Deployment:
        (self.work / "logs").mkdir(parents=True, exist_ok=True)
        self._tables()
        self.s3 = FakeS3(buckets={self.template.resolve({"Ref": b}) for b in self.template.of_type("AWS::S3::Bucket")})
        self.s3.start()
        self._cluster()
        self._secrets_manager()
        api = self.template.rest_api()
        responses = self.template.gateway_responses()
        self.gateway = ApiGateway(api["DefinitionBody"], str(api["StageName"]), responses=responses).start()
        self.custom_domain = ApiGateway(api["DefinitionBody"], str(api["StageName"]), base_path="",
                                        responses=responses).start()
        self.lambda_api = lambda_service({})
        # The WebSocket API's Management API: where the live logs' senders post (its stage: "api").
        self.management_api = FakeManagementApi("api").start()
        self.step_functions = FakeStepFunctions(self.template.state_machines(), self._invoke).start()
        functions = self.template.functions()
        for function in functions:
            self._start_function(function)
        for function in functions:
            self.functions[function.logical_id] = self._ready(function)
            self.lambda_api.handlers[function.name] = self.functions[function.logical_id].invoke
        self.lambda_api.configs.update(self.template.event_invoke_configs())
        self.gateway.connect(self.functions["APIHandler"])
        self.custom_domain.connect(self.functions["APIHandler"])
        for function in functions:
            self._event_sources(function)
        return self

    def stop(self) -> None:
        for source in reversed(self.sources):
            source.stop()
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        for part in (self.gateway, self.custom_domain, self.lambda_api, self.step_functions, self.cluster, self.s3,
                     self.secrets_manager, self.dynamodb, self.management_api):
            if part is not None:
                part.stop()

    def function(self, name: str) -> FunctionEndpoint:
        """A function by its name (the template's FunctionName)."""
        return next(f for f in self.functions.values() if f.name == name)

    def schedules(self) -> list[Schedule]:
        return [source for source in self.sources if isinstance(source, Schedule)]

    def _invoke(self, name: str, payload: Any) -> Any:
        return self.function(name).invoke(payload)

    def _tables(self) -> None:
        client = boto3.client("dynamodb", endpoint_url=self.dynamodb_endpoint, region_name=REGION)
        for logical_id, resource in self.template.of_type("AWS::DynamoDB::Table").items():
            props = resource["Properties"]
            request: dict[str, Any] = {"TableName": props["TableName"], "KeySchema": props["KeySchema"],
                                       "AttributeDefinitions": props["AttributeDefinitions"],
                                       "BillingMode": props.get("BillingMode", "PROVISIONED")}
            if props.get("GlobalSecondaryIndexes"):
                request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
            if props.get("StreamSpecification"):
                request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
            table = client.create_table(**request)["TableDescription"]
            self.template.attributes[(logical_id, "Arn")] = table["TableArn"]
            if "LatestStreamArn" in table:
                self.template.attributes[(logical_id, "StreamArn")] = table["LatestStreamArn"]
        grants = {access_key_of(f): [Grant(*g) for g in self.template.dynamodb_grants(f.role)]
                  for f in self.template.functions()}
        [watcher_role] = [k for k in self.template.of_type("AWS::IAM::Role") if k.startswith("WatcherRole")]
        grants[WATCHER_ACCESS_KEY] = [Grant(*g) for g in self.template.dynamodb_grants(watcher_role)]
        tables = {str(r["Properties"]["TableName"]): self.template.attributes[(k, "Arn")]
                  for k, r in self.template.of_type("AWS::DynamoDB::Table").items()}
        self.dynamodb = IamDynamoDB(self.dynamodb_endpoint, grants, tables).start()

    def _cluster(self) -> None:
        cluster = self.cluster = PodRunningCluster(namespaces=set(), work_dir=self.work / "pods", image_env={
            "PATH": os.environ["PATH"], "LANG": "C.UTF-8",
            # The runner image's agent CLIs: here the stand-in Claude Code.
            "OPTIO_AGENT_BIN_CLAUDE_CODE": str(FAKES / "claude"),
            "FAKE_AGENT_LOG": str(self.work / "agent-runs.jsonl"),
            # Pods reach "GitHub" as the local bare repositories under `remotes`.
            "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": f"url.file://{self.remotes}/.insteadOf",
            "GIT_CONFIG_VALUE_0": "https://github.com/"})
        cluster.start()
        for entry in self.template.of_type("AWS::EKS::AccessEntry").values():
            cluster.groups.update(entry["Properties"].get("KubernetesGroups") or [])
        [(cluster_id, _)] = self.template.of_type("Custom::AWSCDK-EKS-Cluster").items()
        self.template.attributes[(cluster_id, "Endpoint")] = cluster.url
        for resource in self.template.of_type("Custom::AWSCDK-EKS-KubernetesResource").values():
            for manifest in json.loads(self.template.resolve(resource["Properties"]["Manifest"])):
                cluster.apply(manifest)

    def _secrets_manager(self) -> None:
        """The template's secrets with their generated values; each function's access key may read
        those its role's policies allow."""
        readers = {access_key_of(f): self.template.readable_secrets(f.role) for f in self.template.functions()}
        self.secrets_manager = FakeSecretsManager(readers=readers).start()
        for arn, (name, value) in self.template.generated_secrets().items():
            self.secrets_manager.create(name, value, arn=arn)

    def _start_function(self, function: Function) -> None:
        code = self._unpacked(function.code)
        layers = [self._unpacked(layer) / "python" for layer in function.layers]
        runtime_packages = self._runtime_packages()
        assert self.gateway is not None and self.lambda_api is not None and self.s3 is not None
        assert self.step_functions is not None and self.management_api is not None
        assert self.secrets_manager is not None and self.dynamodb is not None
        stage_url = f"http://127.0.0.1:{self.gateway.port}"
        environment = {name: str(self.template.resolve(value)).replace(f"https://{EXECUTE_API_HOST}", stage_url)
                       for name, value in function.environment.items()}
        self.environments[function.logical_id] = environment
        runtime = {
            "PATH": os.environ["PATH"], "LANG": "en_US.UTF-8", "TZ": ":UTC", "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join([str(code), *map(str, layers), str(runtime_packages)]),
            "LAMBDA_TASK_ROOT": str(code),
            "_HANDLER": function.handler, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11", "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb), "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "topology/[$LATEST]0", **CREDENTIALS,
            "AWS_ACCESS_KEY_ID": access_key_of(function),
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": self.secrets_manager.url,
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb.url, "AWS_ENDPOINT_URL_LAMBDA": self.lambda_api.url,
            "AWS_ENDPOINT_URL_S3": self.s3.url, "AWS_ENDPOINT_URL_SFN": self.step_functions.url,
            "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": self.management_api.url,
        }
        ready = self.work / f"{function.logical_id}.port"
        ready.unlink(missing_ok=True)
        with open(self.work / "logs" / f"{function.logical_id}.log", "ab") as log:
            self.processes[function.logical_id] = subprocess.Popen(
                # -S: none of this environment's site-packages, only the paths above.
                [sys.executable, "-S", str(RUNTIME), str(ready), str(function.timeout_s), ACCOUNT],
                cwd=code, env={**runtime, **environment}, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT)

    def _ready(self, function: Function) -> FunctionEndpoint:
        ready = self.work / f"{function.logical_id}.port"
        process = self.processes[function.logical_id]

        def port() -> int | None:
            if process.poll() is not None:
                raise AssertionError(f"{function.logical_id} failed to start:\n{self.log(function.logical_id)[-4000:]}")
            return int(ready.read_text()) if ready.exists() else None

        return FunctionEndpoint(function.name, wait_for(port, timeout_s=60, interval_s=0.1,
                                                        what=f"{function.logical_id} to start"))

    def _runtime_packages(self) -> Path:
        target = self.work / "runtime"
        if not target.exists():
            import boto3 as sdk

            site = Path(sdk.__file__).resolve().parents[1]
            target.mkdir()
            for name in RUNTIME_PACKAGES:
                (target / name).symlink_to(site / name)
        return target

    def _unpacked(self, asset: Path) -> Path:
        if asset.is_dir():
            return asset
        target = self.work / "assets" / asset.stem
        if not target.exists():
            with zipfile.ZipFile(asset) as archive:
                archive.extractall(target.with_suffix(".partial"))
            shutil.move(target.with_suffix(".partial"), target)
        return target

    def _event_sources(self, function: Function) -> None:
        endpoint = self.functions[function.logical_id]
        for name, event in function.events.items():
            props = event["Properties"]
            if event["Type"] == "DynamoDB":
                stream = props["Stream"]["Fn::GetAtt"][0]
                table = self.template.resources[stream]["Properties"]["TableName"]
                poller = StreamPoller(self.dynamodb_endpoint, table, _delivery(endpoint), region=REGION, batch_size=int(props.get("BatchSize", 100)),
                                      function_name=function.name, logger=logger)
                poller.start()
                self.sources.append(poller)
            elif event["Type"] == "Schedule":
                assert props["Schedule"] == "rate(1 minute)", props["Schedule"]
                self.sources.append(Schedule(f"{function.name}-{name}", MINUTE_S, endpoint,
                                             lambda rule, error: self.errors.append(f"{rule}: {error}")).start())
            else:
                raise AssertionError(f"{function.logical_id}: no stand-in for {event['Type']} events")


def _delivery(function: FunctionEndpoint) -> Callable[[dict[str, Any], Any], Any]:
    """The event source mapping's call: a batch of records in, the function's answer (its
    `batchItemFailures`) out; an error of the function fails the batch."""
    def deliver(event: dict[str, Any], _context: Any) -> Any:
        return function.invoke(event)
    return deliver
