"""The only code that writes the secrets table. Values are encrypted (Fernet: AES-128-CBC with
an HMAC) before they are stored, and are never returned by the API."""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from chalicelib.core.timefmt import iso
from chalicelib.settings import settings

from . import rows
from .models import SecretModel

if TYPE_CHECKING:
    from cryptography.fernet import Fernet


@lru_cache(maxsize=1)
def _fernet() -> Fernet:
    if not settings.secrets_key:
        raise RuntimeError("OPTIO_SECRETS_KEY is not set; local mode generates one on start")
    from cryptography.fernet import Fernet  # at first use: the Rust bindings load slowly

    return Fernet(settings.secrets_key.encode())


def put(name: str, value: str, now: datetime) -> tuple[SecretModel, bool]:
    """Create or replace; True when it was new."""
    existing = rows.find(SecretModel, name)
    secret = SecretModel(
        name=name, ciphertext=_fernet().encrypt(value.encode()).decode(),
        createdAt=existing.createdAt if existing else iso(now), updatedAt=iso(now),
    )
    secret.save()
    return secret, existing is None


def get(name: str) -> SecretModel:
    return rows.get(SecretModel, name, "secret")


def value_of(name: str) -> str | None:
    secret = rows.find(SecretModel, name)
    if secret is None:
        return None
    return _decrypt(secret)


def all_values() -> dict[str, str]:
    """Every secret, decrypted: what an agent's environment gets. Few rows, read per launch."""
    return {secret.name: value for secret in SecretModel.scan() if (value := _decrypt(secret)) is not None}


def _decrypt(secret: SecretModel) -> str | None:
    from cryptography.fernet import InvalidToken

    try:
        return _fernet().decrypt(secret.ciphertext.encode()).decode()
    except InvalidToken:
        # Written under another key: unusable, and said so in the logs by the caller's absence.
        return None


def seal(value: str) -> str:
    """A value encrypted as the table keeps it: what may travel where plaintext must not (the
    launcher Lambda's event, which Lambda keeps while the invocation waits)."""
    return _fernet().encrypt(value.encode()).decode()


def unseal(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


def names() -> list[SecretModel]:
    return sorted(SecretModel.scan(attributes_to_get=["name", "createdAt", "updatedAt"]),
                  key=lambda s: s.name)


def delete(name: str) -> None:
    get(name).delete()
