"""Secrets behind the API: names and times only ever go out; values only come in."""
from __future__ import annotations

import re
from typing import Any

from chalicelib.core.schemas import SECRET_NAME_PATTERN, SECRET_PUT
from chalicelib.engine.clock import utcnow
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
