"""Rotating Optio's own keys (README "Rotating keys"). Each step runs as its own process with the
keys it is given, as a server or the operator's command would be started with them: the secrets
key's values written under an old key still read while it is listed, new ones are written under
the newest, `python -m chalicelib.services.reencrypt` moves every value to the newest; the keys may
come from Secrets Manager (its stand-in), re-read once their age is up; an old admin token and
an old run-token key are accepted while listed, and refused once dropped."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from cryptography.fernet import Fernet

from chalicelib.core.tokens import run_token
from tests.conftest import REPO_ROOT
from tests.fakes.secretsmanager_api import FakeSecretsManager
from tests.support.localmode import start_local_mode

pytestmark = pytest.mark.xdist_group("stack")

KEYS = ("OPTIO_API_TOKEN", "OPTIO_RUN_TOKEN_SECRET", "OPTIO_SECRETS_KEY", "OPTIO_API_TOKEN_ARN",
        "OPTIO_RUN_TOKEN_SECRET_ARN", "OPTIO_SECRETS_KEY_ARN")
VALUES = {"ALPHA": "alpha-value", "BETA": "beta-value", "GAMMA": "gamma-value"}
READ = "import json; from chalicelib.store import secrets; print(json.dumps({n: secrets.value_of(n) for n in %r}))"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "ASIAROTATIONTEST", "AWS_SECRET_ACCESS_KEY": "x"}


def optio(code: str | None, prefix: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -c code` (or `python -m args`) with the store at `prefix` and only the keys given."""
    full = {k: v for k, v in os.environ.items() if k not in KEYS}
    full.update(OPTIO_TABLE_PREFIX=prefix, **env)
    command = [sys.executable, "-c", code] if code is not None else [sys.executable, *args]
    return subprocess.run(command, cwd=REPO_ROOT, env=full, capture_output=True, text=True, timeout=120)


def values(prefix: str, names: list[str], **env: str) -> dict[str, str | None]:
    done = optio(READ % names, prefix, **env)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, str | None] = json.loads(done.stdout)
    return result


def reencrypt(prefix: str, **env: str) -> tuple[int, dict[str, int]]:
    done = optio(None, prefix, "-m", "chalicelib.services.reencrypt", **env)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    # The counts are the last line; the structured logs (a value under no key) come before.
    return done.returncode, json.loads(done.stdout.splitlines()[-1])


def ciphertexts(prefix: str) -> dict[str, str]:
    client = boto3.client("dynamodb", endpoint_url=os.environ["OPTIO_DYNAMODB_ENDPOINT"], region_name="us-east-1")
    items = client.scan(TableName=f"{prefix}secrets", ConsistentRead=True)["Items"]
    return {item["name"]["S"]: item["ciphertext"]["S"] for item in items}


def store(prefix: str, names: list[str], **env: str) -> None:
    code = ("from chalicelib.engine.clock import utcnow; from chalicelib.store import secrets; "
            "from chalicelib.store.tables import create_all; create_all(); "
            f"[secrets.put(n, v, utcnow()) for n, v in {({n: VALUES[n] for n in names})!r}.items()]")
    done = optio(code, prefix, **env)
    assert done.returncode == 0, done.stderr[-3000:]


def outcome(**counts: int) -> dict[str, int]:
    return {"reencrypted": 0, "current": 0, "unreadable": 0, "gone": 0, **counts}


def test_old_values_read_new_ones_use_the_newest_and_reencrypt_moves_them_all() -> None:
    prefix = f"rot-{uuid.uuid4().hex[:8]}-"
    old, new, other = (Fernet.generate_key().decode() for _ in range(3))
    both = json.dumps([new, old])
    store(prefix, ["ALPHA", "BETA"], OPTIO_SECRETS_KEY=old)

    assert values(prefix, ["ALPHA", "BETA"], OPTIO_SECRETS_KEY=both) == {"ALPHA": "alpha-value", "BETA": "beta-value"}
    store(prefix, ["GAMMA"], OPTIO_SECRETS_KEY=both)
    assert values(prefix, ["GAMMA"], OPTIO_SECRETS_KEY=old) == {"GAMMA": None}  # written under the newest

    assert reencrypt(prefix, OPTIO_SECRETS_KEY=both) == (0, outcome(reencrypted=2, current=1))
    assert values(prefix, list(VALUES), OPTIO_SECRETS_KEY=new) == VALUES  # the old key can go now
    assert values(prefix, list(VALUES), OPTIO_SECRETS_KEY=old) == dict.fromkeys(VALUES)
    assert reencrypt(prefix, OPTIO_SECRETS_KEY=both) == (0, outcome(current=3))  # again: nothing to do

    # Under no listed key: said, with exit status 1, and left as it was.
    before = ciphertexts(prefix)
    assert reencrypt(prefix, OPTIO_SECRETS_KEY=other) == (1, outcome(unreadable=3))
    assert ciphertexts(prefix) == before


@pytest.fixture()
def secrets_manager() -> Any:
    fake = FakeSecretsManager().start()
    yield fake
    fake.stop()


def test_the_keys_come_from_secrets_manager_and_are_read_again_once_their_age_is_up(
        secrets_manager: FakeSecretsManager) -> None:
    prefix = f"rot-{uuid.uuid4().hex[:8]}-"
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    # As the stack generates it: 43 characters, without the "=" of a Fernet key.
    arn = secrets_manager.create("optio/test/secrets-key", old.removesuffix("="))
    # The region as the operator gives it (AWS_REGION, read by the settings): the SDK alone reads
    # only AWS_DEFAULT_REGION.
    aws = {"OPTIO_SECRETS_KEY_ARN": arn, "AWS_ENDPOINT_URL_SECRETS_MANAGER": secrets_manager.url, **CREDENTIALS,
           "AWS_REGION": "us-east-1"}
    store(prefix, ["ALPHA"], **aws)

    # The operator's rotation: the new key listed first, in the secret.
    client = boto3.client("secretsmanager", endpoint_url=secrets_manager.url, region_name="us-east-1",
                          **{k.lower(): v for k, v in CREDENTIALS.items()})
    client.put_secret_value(SecretId="optio/test/secrets-key", SecretString=json.dumps([new, old]))
    assert reencrypt(prefix, **aws) == (0, outcome(reencrypted=1))
    assert values(prefix, ["ALPHA"], OPTIO_SECRETS_KEY=new) == {"ALPHA": "alpha-value"}

    # A running function: the key is read at first use, kept for OPTIO_KEYS_MAX_AGE_S, then read again.
    rotate = ("import json, boto3; from chalicelib.settings import settings; first = settings.secrets_key.values(); "
              f"boto3.client('secretsmanager', region_name='us-east-1').put_secret_value(SecretId={arn!r}, SecretString=json.dumps({[new]!r})); "
              "print(json.dumps([first, settings.secrets_key.values(), settings.secrets_key.values()]))")
    for max_age, expected in (("300", [[new, old]] * 3), ("0", [[new, old], [new], [new]])):
        client.put_secret_value(SecretId=arn, SecretString=json.dumps([new, old]))
        reads = len(secrets_manager.reads)
        done = optio(rotate, prefix, OPTIO_KEYS_MAX_AGE_S=max_age, **aws)
        assert done.returncode == 0, done.stderr[-3000:]
        assert json.loads(done.stdout) == expected, max_age
        assert len(secrets_manager.reads) - reads == (1 if max_age == "300" else 3)


def test_local_mode_takes_listed_keys_from_its_data_directory(tmp_path: Path) -> None:
    """Local mode keeps its keys in the data directory: listing two there is the local rotation.
    An old admin token and run-token key work while listed; the secrets are re-encrypted on start."""
    prefix = f"rot-{uuid.uuid4().hex[:8]}-"
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    store(prefix, ["ALPHA"], OPTIO_SECRETS_KEY=old)
    data = tmp_path / "data"
    data.mkdir()
    (data / "admin-token").write_text(json.dumps(["optio_admin_new", "optio_admin_old"]) + "\n")
    (data / "run-token-secret").write_text(json.dumps(["run-key-new", "run-key-old"]) + "\n")
    (data / "secrets-key").write_text(json.dumps([new, old]) + "\n")
    local = start_local_mode(tmp_path, OPTIO_TABLE_PREFIX=prefix)
    try:
        assert values(prefix, ["ALPHA"], OPTIO_SECRETS_KEY=new) == {"ALPHA": "alpha-value"}
        for token, status in (("optio_admin_new", 200), ("optio_admin_old", 200), ("optio_admin_gone", 401)):
            answer = requests.get(f"{local.url}/api/secrets", headers={"Authorization": f"Bearer {token}"}, timeout=30)
            assert answer.status_code == status, (token, answer.text)
        # A runner token of an unknown task: accepted (then 404, no such task) or refused (401).
        task_id = str(uuid.uuid4())
        for key, status in (("run-key-new", 404), ("run-key-old", 404), ("run-key-gone", 401)):
            answer = requests.post(f"{local.url}/api/internal/tasks/{task_id}/events",
                                   headers={"Authorization": f"Bearer {run_token(key, task_id, 1)}"},
                                   json={"attempt": 1, "kind": "heartbeat"}, timeout=30)
            assert answer.status_code == status, (key, answer.text)
    finally:
        local.stop()
