"""API keys, sign-in sessions, and the check every authenticated request goes through."""
from __future__ import annotations

import hmac
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from chalicelib.core.roles import ADMIN, ADMIN_TOKEN, Principal, lower, rank
from chalicelib.core.schemas import API_KEY_CREATE
from chalicelib.core.timefmt import parse_iso
from chalicelib.core.tokens import API_KEY_PREFIX, sha256_hex
from chalicelib.engine.clock import utcnow
from chalicelib.exceptions import FieldProblem, Forbidden, NotFound, ValidationFailed
from chalicelib.settings import settings
from chalicelib.store import apikeys, users
from chalicelib.store.models import ApiKeyModel, UserModel

from .validation import require_valid

SESSION_PREFIX = "optio_ses_"
SESSION = "session"
SESSION_HOURS = 12


def _owner_and_role(caller: Principal, given: dict[str, Any]) -> tuple[str | None, str]:
    """Whose the new key is and its role: the caller's own, at most the caller's role; an
    administrator may make one for another user, at most that user's role."""
    owner_id, ceiling = caller.user_id, caller.role
    if given.get("userId") and given["userId"] != caller.user_id:
        if caller.role != ADMIN:
            raise Forbidden("only an administrator makes keys for other users")
        owner = users.find(given["userId"])
        if owner is None:
            raise ValidationFailed("no such user", [FieldProblem("userId", f"no user {given['userId']}")])
        owner_id, ceiling = owner.id, owner.role
    role = given.get("role") or ceiling
    if rank(role) > rank(ceiling):
        raise ValidationFailed("the role is higher than its owner's", [FieldProblem(
            "role", f"at most {ceiling}, the role of the key's owner")])
    return owner_id, role


def create_key(caller: Principal, body: Any) -> tuple[ApiKeyModel, str]:
    given = require_valid(API_KEY_CREATE, body or {})
    owner_id, role = _owner_and_role(caller, given)
    now = utcnow()
    days = given.get("expiresInDays")
    return _issue(API_KEY_PREFIX, given.get("name"), now, user_id=owner_id, role=role,
                  expires_at=now + timedelta(days=days) if days else None)


def issue_key(user: UserModel, name: str, role: str) -> tuple[ApiKeyModel, str]:
    return _issue(API_KEY_PREFIX, name, utcnow(), user_id=user.id, role=role, expires_at=None)


def create_session(user: UserModel) -> str:
    """A sign-in: a token for the `optio_session` cookie, acting as the user until it expires or
    the user signs out."""
    now = utcnow()
    _, token = _issue(SESSION_PREFIX, None, now, user_id=user.id, role=user.role,
                      expires_at=now + timedelta(hours=SESSION_HOURS), kind=SESSION)
    return token


def end_session(token: str) -> None:
    if token.startswith(SESSION_PREFIX):
        key = apikeys.find_by_hash(sha256_hex(token))
        if key is not None:
            apikeys.delete(key)


def _issue(prefix: str, name: str | None, now: datetime, *, user_id: str | None, role: str,
           expires_at: datetime | None, kind: str | None = None) -> tuple[ApiKeyModel, str]:
    token = prefix + secrets.token_urlsafe(32)
    key = apikeys.create(str(uuid.uuid4()), name, sha256_hex(token), token[: len(prefix) + 4], now,
                         user_id=user_id, role=role, expires_at=expires_at, kind=kind)
    return key, token


ADMIN_PRINCIPAL = Principal(ADMIN_TOKEN, ADMIN)


def principal_of(token: str) -> Principal | None:
    """Who a token speaks for: the admin token, a signed-in user (a session) or an API key; None
    when it is not a valid token: unknown, expired, or its user disabled."""
    # Every listed admin token is accepted: while one is being rotated out, both work.
    if any(hmac.compare_digest(token.encode(), admin.encode()) for admin in settings.api_token.values()):
        return ADMIN_PRINCIPAL
    if not token.startswith((API_KEY_PREFIX, SESSION_PREFIX)):
        return None
    key = apikeys.find_by_hash(sha256_hex(token))
    if key is None:
        return None
    if key.expiresAt and parse_iso(key.expiresAt) <= utcnow():
        if key.kind == SESSION:
            # Nobody lists sessions: an expired one goes when it is next presented.
            apikeys.delete(key)
        return None
    # Keys from before roles could do everything: they keep that, as the admin token's keys do.
    role = key.role or ADMIN
    if key.userId is None:
        return Principal(f"apikey:{key.id}", role)
    owner = users.find(key.userId)
    if owner is None or owner.disabled:
        return None
    # A user's role lowered since: the key can do no more than the user now can.
    role = lower(role, owner.role)
    if key.kind == SESSION:
        return Principal(f"user:{owner.id}", owner.role, owner.id)
    return Principal(f"apikey:{key.id}", role, owner.id)


def own_principals(caller: Principal) -> frozenset[str]:
    """Every principal that acts as the caller's own, for "my tasks": a user signed in
    (`user:<id>`) and through each of their API keys (`apikey:<id>`) is one person."""
    if caller.user_id is None:
        return frozenset({caller.id})
    return frozenset({caller.id, f"user:{caller.user_id}",
                      *(f"apikey:{key.id}" for key in apikeys.list_keys(caller.user_id))})


def list_keys(caller: Principal) -> list[ApiKeyModel]:
    """An administrator sees every key; anyone else their own."""
    return apikeys.list_keys(None if caller.role == ADMIN else caller.user_id or "")


def delete_key(caller: Principal, key_id: str) -> None:
    key = apikeys.find(key_id)
    if key is None or key.kind == SESSION or (caller.role != ADMIN and key.userId != caller.user_id):
        raise NotFound(f"API key {key_id} not found")
    apikeys.delete(key)
