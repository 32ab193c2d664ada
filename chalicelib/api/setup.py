"""`/api/setup/*`: first-run setup, public, as no one can sign in before it."""
from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.core.roles import PUBLIC
from chalicelib.core.schemas import SETUP_ADMIN
from chalicelib.services import oidc, setup

from .http import body_of, created, route
from .shapes import user_json

bp = Blueprint(__name__)


@route(bp, "/api/setup/status", methods=["GET"], role=PUBLIC)
def setup_status() -> dict[str, Any]:
    """What a first visitor needs: whether setup is due, and whether an identity provider signs people in"""
    return {"setupNeeded": setup.setup_needed(), "identityProvider": oidc.configured()}


@route(bp, "/api/setup/admin", methods=["POST"], role=PUBLIC, body=SETUP_ADMIN, status=201)
def create_first_admin() -> Response:
    """Create the first administrator with the setup token; refused once one exists"""
    user, token = setup.create_first_admin(body_of(bp.current_request))
    return created({"user": user_json(user), "token": token})
