"""GitHub issues and webhooks, the pure parts: the assign body, the task's prompt, the listing
order, and the webhook signature check (SPEC §8)."""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Any

from .schemas import AGENT_TYPES

ISSUE_ASSIGN: dict[str, Any] = {
    "type": "object",
    "required": ["repoId", "issueNumber"],
    "additionalProperties": False,
    "properties": {
        "repoId": {"type": "string", "minLength": 1},
        "issueNumber": {"type": "integer", "minimum": 1},
        "agentType": {"type": "string", "enum": list(AGENT_TYPES)},
        # Accepted for compatibility with the documented request; GitHub's own are used.
        "title": {"type": "string"},
        "body": {"type": "string"},
    },
}

PROMPT_MAX = 100000


def issue_key(repo_id: str, number: int) -> str:
    """The unique key an assignment claims: one task per (repo, issue)."""
    return f"issue#{repo_id}#{number}"


def delivery_key(delivery_id: str) -> str:
    return f"github-delivery#{delivery_id}"


def issue_prompt(title: str, body: str | None, url: str | None, comments: Sequence[str]) -> str:
    parts = [title.strip()]
    if body and body.strip():
        parts.append(body.strip())
    if comments:
        parts.append("Comments on the issue:\n" + "\n".join(f"- {c.strip()}" for c in comments if c.strip()))
    if url:
        parts.append(f"GitHub issue: {url}")
    return "\n\n".join(parts)[:PROMPT_MAX]


def listing_order(issue: Mapping[str, Any]) -> tuple[bool, str]:
    """Sort key, ascending: unassigned first, then most recently updated (ISO times sort)."""
    updated = str(issue.get("updatedAt") or "")
    inverted = "".join(chr(0x10FFFF - ord(ch)) for ch in updated)
    return bool(issue.get("assignee")), inverted


def valid_signature(secret: str, body: bytes, header: str | None) -> bool:
    """`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`, compared in constant time."""
    if not secret or not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode())
