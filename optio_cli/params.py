"""Inputs that are not plain options: text from stdin, JSON objects, `name=value` params, and
whether a `--repo` is an id or a URL."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from .errors import USAGE, CliError

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


def text_or_stdin(value: str) -> str:
    """`-` reads the text from stdin (long prompts, heredocs)."""
    return sys.stdin.read() if value == "-" else value


def json_object(value: str | None, option: str) -> dict[str, Any] | None:
    """A JSON object given inline or as `@file`."""
    if value is None:
        return None
    try:
        raw = Path(value[1:]).read_text() if value.startswith("@") else value
        parsed = json.loads(raw)
    except (OSError, ValueError) as error:
        raise CliError(f"{option}: {error}", USAGE) from error
    if not isinstance(parsed, dict):
        raise CliError(f"{option} must be a JSON object", USAGE)
    return parsed


def params(pairs: tuple[str, ...], as_json: str | None) -> dict[str, Any] | None:
    """`--params '{"n": 3}'` then `--param name=value` (values stay strings: `1.10` is not 1.1)."""
    merged = json_object(as_json, "--params") or {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise CliError(f"--param {pair!r}: expected NAME=VALUE", USAGE)
        merged[name] = value
    return merged if (pairs or as_json is not None) else None


def repo_ref(value: str) -> dict[str, str]:
    """A registered repository's id, else a URL (registered with defaults on first use)."""
    return {"repoId": value} if UUID.match(value) else {"repoUrl": value}


def drop_none(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
