"""Names derived from a task: its git branch."""
from __future__ import annotations

import re
import unicodedata

SLUG_MAX = 40


def slugify(text: str, limit: int = SLUG_MAX) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "task"


def branch_name(title: str, task_id: str) -> str:
    """Fixed at creation and reused by every retry, so a retry finds its own PR."""
    return f"optio/{slugify(title)}-{task_id[:8]}"
