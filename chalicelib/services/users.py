"""People: administrators invite them by email with a role, change the role, disable them; a
sign-in through the identity provider finds its user (`signed_in`)."""
from __future__ import annotations

import uuid
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.core.roles import Principal
from chalicelib.core.schemas import USER_CREATE, USER_PATCH
from chalicelib.engine.clock import utcnow
from chalicelib.exceptions import Forbidden
from chalicelib.store import users
from chalicelib.store.models import UserModel

from .validation import require_valid


def normal_email(email: str) -> str:
    # Identity providers differ in the case they give an address in; people type either.
    return email.strip().lower()


def create_user(caller: Principal, body: Any) -> UserModel:
    given = require_valid(USER_CREATE, body)
    return users.create(str(uuid.uuid4()), normal_email(given["email"]), given.get("name"), given["role"],
                        caller.id, utcnow())


def list_users() -> list[UserModel]:
    return users.list_users()


def get_user(user_id: str) -> UserModel:
    return users.get(user_id)


def update_user(caller: Principal, user_id: str, body: Any) -> UserModel:
    given = require_valid(USER_PATCH, body)
    user = users.get(user_id)
    if user.id == caller.user_id and (given.get("disabled") or given.get("role", user.role) != user.role):
        # Nobody locks themselves out; another administrator (or the admin token) can.
        raise Forbidden("you cannot disable yourself or change your own role")
    return users.update(user, utcnow(), role=given.get("role"), disabled=given.get("disabled"),
                        name=given.get("name"))


def signed_in(identity: str, email: str | None, name: str | None) -> UserModel:
    """The user an identity provider vouched for: the one bound to the identity, else the invited
    user of its (verified) email, which the identity then binds for good. 403 for anyone else."""
    user = users.by_identity(identity)
    if user is None and email:
        invited = users.by_email(normal_email(email))
        user = invited if invited is not None and invited.identity is None else None
    if user is None:
        raise Forbidden(f"{email or 'this identity'} has no Optio user: ask an administrator to invite you")
    if user.disabled:
        raise Forbidden("this user is disabled")
    try:
        users.signed_in(user, identity, utcnow())
    except UpdateError:
        # Bound to another identity between the lookup and now.
        raise Forbidden("this user signs in with another identity") from None
    if name and not user.name:
        users.update(user, utcnow(), name=name)
    return user
