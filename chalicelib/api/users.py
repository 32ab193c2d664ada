"""`/api/users`: the people who sign in, managed by administrators."""
from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.core.schemas import USER_CREATE, USER_PATCH
from chalicelib.services import users

from .auth import acting
from .http import body_of, created, route
from .shapes import user_json

bp = Blueprint(__name__)


@route(bp, "/api/users", methods=["GET"])
def list_users() -> dict[str, Any]:
    """List users"""
    return {"items": [user_json(u) for u in users.list_users()], "nextCursor": None}


@route(bp, "/api/users", methods=["POST"], body=USER_CREATE, status=201)
def create_user() -> Response:
    """Invite a user by email with a role: their first sign-in with that (verified) email binds them"""
    request = bp.current_request
    return created(user_json(users.create_user(acting(request), body_of(request))))


@route(bp, "/api/users/{user_id}", methods=["GET"])
def get_user(user_id: str) -> dict[str, Any]:
    """One user"""
    return user_json(users.get_user(user_id))


@route(bp, "/api/users/{user_id}", methods=["PATCH"], body=USER_PATCH)
def update_user(user_id: str) -> dict[str, Any]:
    """Change a user's role or name, disable or enable them"""
    request = bp.current_request
    return user_json(users.update_user(acting(request), user_id, body_of(request)))
