"""The only code that writes the users table. An email belongs to one user: claimed with the row
(`user-email#<email>`); the first administrator is created once for good (`setup#first-admin`)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pynamodb.expressions.update import Action

from chalicelib.core.timefmt import iso
from chalicelib.exceptions import Conflict

from . import rows
from .claims import Claim, holder, save_claimed
from .models import UserModel

FIRST_ADMIN_KEY = "setup#first-admin"


def email_key(email: str) -> str:
    return f"user-email#{email}"


def create(user_id: str, email: str, name: str | None, role: str, created_by: str, now: datetime,
           first_admin: Callable[[], Exception] | None = None) -> UserModel:
    """With `first_admin` (the error when it is taken), the row also claims the setup key: only
    one first administrator, ever."""
    stamp = iso(now)
    user = UserModel(id=user_id, email=email, name=name, role=role, disabled=False, createdBy=created_by,
                     createdAt=stamp, updatedAt=stamp)
    claims: list[Claim] = [(email_key(email), lambda: Conflict(f"a user with email {email} exists"))]
    if first_admin is not None:
        claims.insert(0, (FIRST_ADMIN_KEY, first_admin))
    save_claimed(user, claims, concurrently="the user was created concurrently: try again")
    return user


def setup_done() -> bool:
    return holder(FIRST_ADMIN_KEY) is not None


def get(user_id: str) -> UserModel:
    return rows.get(UserModel, user_id, "user")


def find(user_id: str) -> UserModel | None:
    return rows.find(UserModel, user_id)


def by_identity(identity: str) -> UserModel | None:
    return next(iter(UserModel.identity_index.query(identity, limit=1)), None)


def by_email(email: str) -> UserModel | None:
    return next(iter(UserModel.email_index.query(email, limit=1)), None)


def list_users() -> list[UserModel]:
    # People of one installation: tens, perhaps hundreds; listed by an administrator.
    return sorted(UserModel.scan(), key=lambda u: u.createdAt)


def update(user: UserModel, now: datetime, *, role: str | None = None, disabled: bool | None = None,
           name: str | None = None) -> UserModel:
    actions: list[Action] = [UserModel.updatedAt.set(iso(now))]
    if role is not None:
        actions.append(UserModel.role.set(role))
    if disabled is not None:
        actions.append(UserModel.disabled.set(disabled))
    if name is not None:
        actions.append(UserModel.name.set(name))
    user.update(actions=actions, condition=UserModel.id.exists())
    return user


def signed_in(user: UserModel, identity: str, now: datetime) -> UserModel:
    """Records a sign-in; the first one binds the identity, which no later one may change."""
    user.update(actions=[UserModel.identity.set(identity), UserModel.lastSignInAt.set(iso(now))],
                condition=UserModel.identity.does_not_exist() | (UserModel.identity == identity))
    return user
