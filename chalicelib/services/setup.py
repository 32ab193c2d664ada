"""First-run setup: a fresh deployment has no user; whoever holds the setup token (printed by the
local server at start, a secret of the deployment on AWS) creates the first administrator, once:
the user's row claims the setup key in the same write, so setup is refused for good after it."""
from __future__ import annotations

import hmac
import uuid
from typing import Any

from chalicelib.core.roles import ADMIN
from chalicelib.core.schemas import SETUP_ADMIN
from chalicelib.engine.clock import utcnow
from chalicelib.exceptions import Conflict, Forbidden, Unauthorized
from chalicelib.settings import settings
from chalicelib.store import users
from chalicelib.store.models import UserModel

from . import apikeys
from .users import normal_email
from .validation import require_valid

SETUP = "setup"


def setup_needed() -> bool:
    return not users.setup_done()


def setup_token() -> str:
    return settings.setup_token.newest()


def _done() -> Conflict:
    return Conflict("setup is done: the first administrator exists")


def create_first_admin(body: Any) -> tuple[UserModel, str]:
    """The first administrator, and an admin API key of theirs (shown once) for signing in where
    no identity provider is configured."""
    given = require_valid(SETUP_ADMIN, body)
    if not setup_needed():
        raise _done()
    accepted = settings.setup_token.values()
    if not accepted:
        raise Forbidden("no setup token is configured (OPTIO_SETUP_TOKEN)")
    if not any(hmac.compare_digest(given["setupToken"].encode(), token.encode()) for token in accepted):
        raise Unauthorized("wrong setup token")
    user = users.create(str(uuid.uuid4()), normal_email(given["email"]), given.get("name"), ADMIN, SETUP,
                        utcnow(), first_admin=_done)
    _, token = apikeys.issue_key(user, "setup", ADMIN)
    return user, token
