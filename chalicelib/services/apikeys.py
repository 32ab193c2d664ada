"""API keys and the check every authenticated request goes through."""
from __future__ import annotations

import hmac
import secrets
import uuid
from typing import Any

from chalicelib.core.schemas import API_KEY_CREATE
from chalicelib.core.tokens import API_KEY_PREFIX, sha256_hex
from chalicelib.engine.clock import utcnow
from chalicelib.settings import settings
from chalicelib.store import apikeys
from chalicelib.store.models import ApiKeyModel

from .validation import require_valid


def create_key(body: Any) -> tuple[ApiKeyModel, str]:
    given = require_valid(API_KEY_CREATE, body or {})
    token = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = apikeys.create(
        str(uuid.uuid4()), given.get("name"), sha256_hex(token), token[: len(API_KEY_PREFIX) + 4],
        utcnow(),
    )
    return key, token


ADMIN = "admin"


def principal_of(token: str) -> str | None:
    """Who a token speaks for: `admin`, or `apikey:<id>`; None when it is not a valid token."""
    if settings.api_token and hmac.compare_digest(token.encode(), settings.api_token.encode()):
        return ADMIN
    if not token.startswith(API_KEY_PREFIX):
        return None
    key = apikeys.find_by_hash(sha256_hex(token))
    return f"apikey:{key.id}" if key is not None else None


def list_keys() -> list[ApiKeyModel]:
    return apikeys.list_keys()


def delete_key(key_id: str) -> None:
    apikeys.delete(key_id)
