"""Who may do what: three roles, each able to do all the one below it can, and the principal a
request acts as.

`viewer` reads; `member` also creates and acts on tasks, blueprints, templates and runs; `admin`
also manages settings, secrets, repos, keys and users. A route needs one of them, or is `public`
(it checks its own proof: a signature, a runner's token, a setup token, or nothing at all).
"""
from __future__ import annotations

from dataclasses import dataclass

VIEWER, MEMBER, ADMIN = "viewer", "member", "admin"
ROLES = (VIEWER, MEMBER, ADMIN)
PUBLIC = "public"
# The admin token's principal: it is no user, and every deployment has it.
ADMIN_TOKEN = "admin"


def rank(role: str) -> int:
    return ROLES.index(role)


def allows(held: str, needed: str) -> bool:
    """Whether a principal holding `held` may call a route that needs `needed`."""
    return needed == PUBLIC or rank(held) >= rank(needed)


def lower(first: str, second: str) -> str:
    return first if rank(first) <= rank(second) else second


@dataclass(frozen=True)
class Principal:
    """`id` is what gets recorded as the actor: `admin` (the admin token), `user:<id>` (a signed-in
    user) or `apikey:<id>`; `user_id` is the user it acts for, None for the admin token and the keys
    it made."""

    id: str
    role: str
    user_id: str | None = None
