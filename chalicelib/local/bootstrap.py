"""What local mode settles before anything reads the settings: the data directory, the admin
token, the first-run setup token, the runner-token and secrets keys (generated once, then kept),
and the store's endpoint."""
from __future__ import annotations

import base64
import secrets
from collections.abc import MutableMapping
from pathlib import Path


def _kept_secret(path: Path, make: str) -> str:
    if path.exists():
        return path.read_text().strip()
    path.write_text(make + "\n")
    path.chmod(0o600)
    return make


def prepare(env: MutableMapping[str, str]) -> Path:
    data_dir = Path(env.get("OPTIO_DATA_DIR") or ".optio").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    env["OPTIO_DATA_DIR"] = str(data_dir)
    if not env.get("OPTIO_API_TOKEN"):
        env["OPTIO_API_TOKEN"] = _kept_secret(data_dir / "admin-token", "optio_admin_" + secrets.token_urlsafe(24))
    if not env.get("OPTIO_SETUP_TOKEN"):
        env["OPTIO_SETUP_TOKEN"] = _kept_secret(data_dir / "setup-token", "optio_setup_" + secrets.token_urlsafe(24))
    if not env.get("OPTIO_RUN_TOKEN_SECRET"):
        env["OPTIO_RUN_TOKEN_SECRET"] = _kept_secret(data_dir / "run-token-secret", secrets.token_hex(32))
    if not env.get("OPTIO_SECRETS_KEY"):
        env["OPTIO_SECRETS_KEY"] = _kept_secret(
            data_dir / "secrets-key", base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        )
    env.setdefault("OPTIO_LAUNCHER", "local")
    return data_dir
