"""Prompt templates: `{{param}}` placeholders filled from a run's params."""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}")


def _text(value: Any) -> str:
    # Strings go in as written; anything else as JSON, so `true` and `null` read as they were sent.
    return value if isinstance(value, str) else json.dumps(value)


def render(template: str, params: Mapping[str, Any]) -> str:
    """Fill every `{{name}}` that `params` has. Others stay as written, so a prompt that uses
    braces for its own reasons survives; one pass, so a value is never expanded again."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        return _text(params[name]) if name in params else match.group(0)

    return _PLACEHOLDER.sub(fill, template)
