"""Secrets behind the API: names and times only ever go out; values only come in."""
from __future__ import annotations

import re
from typing import Any

from chalicelib.core.schemas import SECRET_NAME_PATTERN, SECRET_PUT
from chalicelib.engine.clock import utcnow
from chalicelib.engine.credentials import SERVER_ONLY
from chalicelib.exceptions import FieldProblem, ValidationFailed
from chalicelib.store import secrets
from chalicelib.store.models import SecretModel

from .validation import require_valid


def _checked_name(name: str) -> str:
    if not re.match(SECRET_NAME_PATTERN, name):
        raise ValidationFailed("invalid secret name", [FieldProblem(
            "name", "letters, digits and underscores, not starting with a digit (e.g. GITHUB_TOKEN)")])
    return name


def put_secret(name: str, body: Any) -> tuple[SecretModel, bool]:
    value = require_valid(SECRET_PUT, body)["value"]
    return secrets.put(_checked_name(name), value, utcnow())


def get_secret(name: str) -> SecretModel:
    return secrets.get(_checked_name(name))


def delete_secret(name: str) -> None:
    secrets.delete(_checked_name(name))


def check_agent_secrets(names: list[str], field: str) -> None:
    """The secrets a definition gives its agents must exist, and be an agent's: Optio's own never
    reach one. 400 naming `<field>.<i>` otherwise."""
    check_named_secrets([(f"{field}.{index}", name) for index, name in enumerate(names)])


def check_named_secrets(named: list[tuple[str, str]]) -> None:
    """Each (field, secret name) names a stored agent secret: 400 naming the fields otherwise."""
    stored = {secret.name for secret in secrets.names()} if named else set()
    problems = [FieldProblem(field,
                             f"{name} is Optio's own secret, never given to an agent" if name in SERVER_ONLY
                             else f"no secret {name}: store it with PUT /api/secrets/{name} first")
                for field, name in named if name in SERVER_ONLY or name not in stored]
    if problems:
        raise ValidationFailed("unknown secret", problems)
