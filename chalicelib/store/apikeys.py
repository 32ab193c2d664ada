"""The only code that writes the API keys table. Tokens are stored as SHA-256 hashes."""
from __future__ import annotations

from datetime import datetime

from chalicelib.core.timefmt import iso

from . import rows
from .models import ApiKeyModel


def create(key_id: str, name: str | None, token_hash: str, token_prefix: str, now: datetime, *,
           user_id: str | None, role: str, expires_at: datetime | None, kind: str | None = None) -> ApiKeyModel:
    key = ApiKeyModel(
        id=key_id, name=name, tokenHash=token_hash, tokenPrefix=token_prefix, createdAt=iso(now),
        userId=user_id, role=role, expiresAt=iso(expires_at) if expires_at else None, kind=kind,
    )
    key.save(condition=ApiKeyModel.id.does_not_exist())
    return key


def find_by_hash(token_hash: str) -> ApiKeyModel | None:
    return next(iter(ApiKeyModel.token_index.query(token_hash, limit=1)), None)


def list_keys(user_id: str | None = None) -> list[ApiKeyModel]:
    """The API keys (not the sign-in sessions), all of them or one user's."""
    # A handful of keys per person; the sessions of the last days beside them.
    condition = ApiKeyModel.kind.does_not_exist()
    if user_id is not None:
        condition &= ApiKeyModel.userId == user_id
    return sorted(ApiKeyModel.scan(condition), key=lambda k: k.createdAt)


def find(key_id: str) -> ApiKeyModel | None:
    return rows.find(ApiKeyModel, key_id)


def delete(key: ApiKeyModel) -> None:
    key.delete()
