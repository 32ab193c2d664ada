"""Small helpers every agent adapter uses to read what its CLI printed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

# Colours and cursor movement of CLIs that print for a terminal even into a pipe.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")


def json_object(line: str) -> dict[str, Any] | None:
    """The JSON object on this line, or None for anything else (plain text, a list, half a line)."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def nonempty(value: object) -> str | None:
    """A non-empty string, or None."""
    return value if isinstance(value, str) and value else None


def count(value: object) -> int:
    """A token count; anything that is not a whole number counts as none."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def amount(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def strip_ansi(line: str) -> str:
    return _ANSI.sub("", line)


def matching(line: str, markers: Iterable[str]) -> str | None:
    """The line itself if it contains one of the (lower-case) markers, else None."""
    lowered = line.lower()
    return line if any(marker in lowered for marker in markers) else None
