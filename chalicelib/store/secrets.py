"""The only code that writes the secrets table. Values are encrypted (Fernet: AES-128-CBC with
an HMAC) before they are stored, and are never returned by the API.

The secrets key may list several Fernet keys, newest first (settings.ServerKey): values are
encrypted with the newest and decrypted with whichever listed key encrypted them, so a key is
rotated by listing a new one first, re-encrypting (`chalicelib.services.reencrypt`), then
dropping the old one."""
from __future__ import annotations

from datetime import datetime
from enum import Enum
from functools import lru_cache
from typing import TYPE_CHECKING

from chalicelib.core.timefmt import iso
from chalicelib.settings import settings

from . import rows
from .models import SecretModel

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet


def _fernet() -> MultiFernet:
    keys = settings.secrets_key.values()
    if not keys:
        raise RuntimeError("OPTIO_SECRETS_KEY is not set; local mode generates one on start")
    return _fernet_of(keys)


@lru_cache(maxsize=4)  # the keys change only when rotated: a few sets over a process's life
def _fernet_of(keys: tuple[str, ...]) -> MultiFernet:
    from cryptography.fernet import Fernet, MultiFernet  # at first use: the Rust bindings load slowly

    return MultiFernet([Fernet(_padded(key).encode()) for key in keys])


def _padded(key: str) -> str:
    """A Fernet key is 32 bytes in urlsafe base64, 44 characters with its "=": the stack's
    generated key has its 43 characters only (Secrets Manager generates no "=")."""
    return key + "=" * (-len(key) % 4)


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
        # Written under a key no longer listed: unusable, and said so in the logs by the caller's absence.
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


class Reencrypted(Enum):
    DONE = "reencrypted"
    CURRENT = "current"  # under the newest key already
    UNREADABLE = "unreadable"  # under no listed key: left as it is
    GONE = "gone"  # deleted meanwhile


def reencrypt(name: str) -> Reencrypted:
    """Rewrites one stored value under the newest key, with a write conditioned on the ciphertext
    read: a value replaced meanwhile (PUT, under the newest key) is read again, never overwritten."""
    from cryptography.fernet import InvalidToken
    from pynamodb.exceptions import PutError

    every = _fernet()
    newest = _fernet_of(settings.secrets_key.values()[:1])
    while True:
        secret = rows.find(SecretModel, name)
        if secret is None:
            return Reencrypted.GONE
        read = secret.ciphertext
        try:
            newest.decrypt(read.encode())
            return Reencrypted.CURRENT
        except InvalidToken:
            pass
        try:
            secret.ciphertext = every.rotate(read.encode()).decode()
        except InvalidToken:
            return Reencrypted.UNREADABLE
        try:
            secret.save(condition=SecretModel.ciphertext == read)
            return Reencrypted.DONE
        except PutError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise
