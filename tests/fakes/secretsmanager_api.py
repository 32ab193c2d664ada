"""A loopback stand-in for AWS Secrets Manager as boto3 speaks it: the AWS JSON 1.1 protocol
(`POST /`, `Content-Type: application/x-amz-json-1.1`, the operation named by
`X-Amz-Target: secretsmanager.<Operation>`), answered with the service's shapes and errors
(`{"__type": "ResourceNotFoundException", "Message": ...}` with 400).

GetSecretValue finds a secret by name, full ARN or partial ARN (the ARN without its random
suffix), at the AWSCURRENT stage unless `VersionStage` or `VersionId` names another version;
PutSecretValue adds a version, which becomes AWSCURRENT and the one before it AWSPREVIOUS, as the
service moves its stages. Signatures are not checked (the stand-ins hold no real keys), but the
caller's access key id is: with `readers` given, an access key may read only the secrets listed
for it (what the caller's IAM role allows), others get AccessDeniedException as the service
answers it.
"""
from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

from .loopback import Loopback

REGION = "us-east-1"
ACCOUNT = "123456789012"
_CREDENTIAL = re.compile(r"Credential=(?P<key>[^/,\s]+)/")
Answer = tuple[int, dict[str, Any]]


@dataclass
class Version:
    id: str
    value: str
    stages: list[str]
    created: float


@dataclass
class Secret:
    arn: str
    name: str
    versions: list[Version] = field(default_factory=list)


@dataclass
class FakeSecretsManager:
    # Access key id -> the ARNs it may read; None: anyone reads anything.
    readers: dict[str, set[str]] | None = None
    secrets: dict[str, Secret] = field(default_factory=dict)  # by ARN
    # (access key id, ARN) of every GetSecretValue answered: how often each caller read.
    reads: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    _loopback: Loopback | None = None

    def start(self) -> FakeSecretsManager:
        self._loopback = Loopback(_handler(self))
        self.url = self._loopback.url
        return self

    def stop(self) -> None:
        if self._loopback is not None:
            self._loopback.stop()

    def create(self, name: str, value: str, arn: str | None = None) -> str:
        """A secret with its first version (as CreateSecret makes it); its ARN."""
        arn = arn or f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-{uuid.uuid4().hex[:6]}"
        with self.lock:
            self.secrets[arn] = Secret(arn, name)
        self.put(arn, value)
        return arn

    def put(self, secret_id: str, value: str) -> Version:
        """A new AWSCURRENT version; the one it replaces becomes AWSPREVIOUS."""
        with self.lock:
            secret = self._find(secret_id)
            if secret is None:
                raise KeyError(secret_id)
            for version in secret.versions:
                version.stages = [s for s in version.stages if s != "AWSPREVIOUS"]
                if "AWSCURRENT" in version.stages:
                    version.stages = [s for s in version.stages if s != "AWSCURRENT"] + ["AWSPREVIOUS"]
            version = Version(str(uuid.uuid4()), value, ["AWSCURRENT"], datetime.now(UTC).timestamp())
            secret.versions.append(version)
            return version

    def _find(self, secret_id: str) -> Secret | None:
        if secret_id in self.secrets:
            return self.secrets[secret_id]
        for secret in self.secrets.values():
            # A partial ARN: the full one without "-" and its six random characters.
            if secret_id in (secret.name, secret.arn[:-7]):
                return secret
        return None

    # --- the operations -------------------------------------------------------------------

    def call(self, operation: str, access_key: str, body: dict[str, Any]) -> Answer:
        if operation == "GetSecretValue":
            return self._get_secret_value(access_key, body)
        if operation == "PutSecretValue":
            return self._put_secret_value(body)
        return _error("InvalidAction", f"{operation} is not supported by this stand-in")

    def _get_secret_value(self, access_key: str, body: dict[str, Any]) -> Answer:
        secret_id = body.get("SecretId")
        if not isinstance(secret_id, str) or not secret_id:
            return _error("ValidationException", "1 validation error detected: Value null at 'secretId' "
                          "failed to satisfy constraint: Member must not be null")
        with self.lock:
            secret = self._find(secret_id)
            allowed = self.readers is None or (secret is not None and secret.arn in self.readers.get(access_key, set()))
            if not allowed:
                # What the service answers a caller its role does not allow, for a secret that may not exist.
                return _error("AccessDeniedException", f"User: {access_key} is not authorized to perform: "
                              f"secretsmanager:GetSecretValue on resource: {secret_id} because no "
                              "identity-based policy allows the secretsmanager:GetSecretValue action")
            if secret is None:
                return _error("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
            wanted_id, stage = body.get("VersionId"), body.get("VersionStage") or "AWSCURRENT"
            found = [v for v in secret.versions if (v.id == wanted_id if wanted_id else stage in v.stages)]
            if not found:
                return _error("ResourceNotFoundException",
                              "Secrets Manager can't find the specified secret value for staging label: " + stage)
            [version] = found
            self.reads.append((access_key, secret.arn))
            return 200, {"ARN": secret.arn, "Name": secret.name, "VersionId": version.id,
                         "SecretString": version.value, "VersionStages": list(version.stages),
                         "CreatedDate": version.created}

    def _put_secret_value(self, body: dict[str, Any]) -> Answer:
        secret_id, value = body.get("SecretId"), body.get("SecretString")
        if not isinstance(secret_id, str) or not isinstance(value, str):
            return _error("InvalidParameterException", "You must provide either SecretString or SecretBinary.")
        with self.lock:
            secret = self._find(secret_id)
        if secret is None:
            return _error("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
        version = self.put(secret.arn, value)
        return 200, {"ARN": secret.arn, "Name": secret.name, "VersionId": version.id,
                     "VersionStages": list(version.stages)}


def _error(kind: str, message: str) -> Answer:
    return 400, {"__type": kind, "Message": message}


def _handler(fake: FakeSecretsManager) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            target = self.headers.get("X-Amz-Target") or ""
            credential = _CREDENTIAL.search(self.headers.get("Authorization") or "")
            if not target.startswith("secretsmanager.") or credential is None:
                code, body = 400, {"__type": "MissingAuthenticationTokenException",
                                   "Message": "Missing Authentication Token"}
            else:
                try:
                    request = json.loads(raw or b"{}")
                except ValueError:
                    code, body = _error("SerializationException", "Start of structure or map found where not expected.")
                else:
                    code, body = fake.call(target.removeprefix("secretsmanager."), credential["key"], request)
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
