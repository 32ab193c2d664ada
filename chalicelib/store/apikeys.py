"""The only code that writes the API keys table. Tokens are stored as SHA-256 hashes."""
from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import DoesNotExist

from chalicelib.core.timefmt import iso
from chalicelib.exceptions import NotFound

from .models import ApiKeyModel


def create(key_id: str, name: str | None, token_hash: str, token_prefix: str, now: datetime) -> ApiKeyModel:
    key = ApiKeyModel(
        id=key_id, name=name, tokenHash=token_hash, tokenPrefix=token_prefix, createdAt=iso(now)
    )
    key.save(condition=ApiKeyModel.id.does_not_exist())
    return key


def find_by_hash(token_hash: str) -> ApiKeyModel | None:
    return next(iter(ApiKeyModel.token_index.query(token_hash, limit=1)), None)


def list_keys() -> list[ApiKeyModel]:
    # A handful of keys per installation; listed by an administrator.
    return sorted(ApiKeyModel.scan(), key=lambda k: k.createdAt)


def delete(key_id: str) -> None:
    try:
        ApiKeyModel.get(key_id, consistent_read=True).delete()
    except DoesNotExist:
        raise NotFound(f"API key {key_id} not found") from None
