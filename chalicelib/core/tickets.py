"""Ticket providers (SPEC §8), the pure parts: the request bodies, which GitHub issues a provider
takes, and the task a ticket becomes."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .schemas import AGENT_TYPES

PROVIDER_KINDS = ("github", "linear")
# A provider whose sync fails this many times in a row is disabled, with the last error kept.
MAX_SYNC_FAILURES = 5
DEFAULT_LINEAR_KEY_SECRET = "LINEAR_API_KEY"
PROMPT_MAX = 100000

_config_github: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "labels": {"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": 20},
        "assignee": {"type": "string", "minLength": 1, "maxLength": 100},
    },
}
_config_linear: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["teamKey"],
    "properties": {
        "teamKey": {"type": "string", "minLength": 1, "maxLength": 50},
        "projectId": {"type": "string", "minLength": 1, "maxLength": 100},
        "label": {"type": "string", "minLength": 1, "maxLength": 100},
        # The name of the secret holding the Linear API key (never the key itself).
        "apiKeySecret": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,127}$"},
    },
}

TICKET_PROVIDER_CREATE: dict[str, Any] = {
    "type": "object",
    "required": ["kind", "repoId"],
    "additionalProperties": False,
    "properties": {
        "kind": {"type": "string", "enum": list(PROVIDER_KINDS)},
        "repoId": {"type": "string", "minLength": 1},
        "enabled": {"type": "boolean"},
        "agentType": {"type": "string", "enum": list(AGENT_TYPES)},
        "config": {"type": "object"},
    },
    "allOf": [
        {"if": {"properties": {"kind": {"const": "github"}}},
         "then": {"properties": {"config": _config_github}}},
        {"if": {"properties": {"kind": {"const": "linear"}}},
         "then": {"required": ["config"], "properties": {"config": _config_linear}}},
    ],
}

TICKET_PROVIDER_PATCH: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {"enabled": {"type": "boolean"}},
}


@dataclass(frozen=True)
class Ticket:
    """One ticket, whatever its provider."""

    source: str  # github | linear
    key: str  # unique within the source: the issue number, or Linear's issue id
    title: str
    body: str | None
    url: str | None
    labels: tuple[str, ...] = ()
    assignee: str | None = None
    comments: tuple[str, ...] = ()
    identifier: str | None = None  # Linear's "ENG-12"


def ticket_key(provider_repo_id: str, ticket: Ticket) -> str:
    """What a ticket claims: GitHub issues share the key of `POST /api/issues/assign`, so an issue
    synced and assigned by hand still makes one task."""
    if ticket.source == "github":
        return f"issue#{provider_repo_id}#{ticket.key}"
    return f"ticket#{ticket.source}#{ticket.key}"


def wanted_github(config: dict[str, Any] | None, ticket: Ticket) -> bool:
    """A github provider takes issues with all its labels, or assigned to its assignee, or all."""
    config = config or {}
    labels: Sequence[str] = config.get("labels") or []
    if labels:
        return set(labels) <= set(ticket.labels)
    assignee = config.get("assignee")
    if assignee:
        return (ticket.assignee or "").lower() == str(assignee).lower()
    return True


def ticket_task(ticket: Ticket) -> dict[str, Any]:
    """The `POST /api/tasks` fields (without the repo) a ticket becomes."""
    parts = [ticket.title.strip()]
    if ticket.body and ticket.body.strip():
        parts.append(ticket.body.strip())
    if ticket.comments:
        parts.append("Comments:\n" + "\n".join(f"- {c.strip()}" for c in ticket.comments if c.strip()))
    if ticket.url:
        parts.append(f"Ticket: {ticket.url}")
    metadata: dict[str, Any] = {"source": ticket.source, "ticketUrl": ticket.url}
    if ticket.source == "github":
        metadata["issueNumber"] = int(ticket.key)
        metadata["issueUrl"] = ticket.url
    else:
        metadata["ticketId"] = ticket.key
        metadata["ticketIdentifier"] = ticket.identifier
    title = f"{ticket.identifier}: {ticket.title}" if ticket.identifier else ticket.title
    return {"title": title.strip()[:200] or "ticket", "prompt": "\n\n".join(parts)[:PROMPT_MAX],
            "metadata": metadata}


def trigger_wants(config: Mapping[str, Any], ticket: Ticket) -> bool:
    """A ticket trigger takes the new tickets of its source that carry all its labels (compared
    without case, as GitHub and Linear both do)."""
    if config.get("source") != ticket.source:
        return False
    have = {label.lower() for label in ticket.labels}
    return all(label.lower() in have for label in config.get("labels") or [])


@dataclass(frozen=True)
class TicketTrigger:
    """An enabled ticket trigger of an enabled config, as the choice below needs it."""

    id: str
    created_at: str
    config: Mapping[str, Any]


def handling_trigger(candidates: Sequence[TicketTrigger], ticket: Ticket) -> TicketTrigger | None:
    """One run per ticket: the trigger that handles a new ticket, or None when no trigger wants
    it and the provider's plain task does. A ticket trigger is configured on purpose for tickets
    like this one (a blueprint with its own prompt and repository), so it wins over the provider;
    of several that want it, the oldest (then the lowest id) handles it alone."""
    wanting = [t for t in candidates if trigger_wants(t.config, ticket)]
    return min(wanting, key=lambda t: (t.created_at, t.id)) if wanting else None


def trigger_params(ticket: Ticket) -> dict[str, Any]:
    """The params a ticket trigger's run is rendered with (SPEC §7)."""
    return {"ticketSource": ticket.source, "ticketExternalId": ticket.identifier or ticket.key,
            "ticketTitle": ticket.title, "ticketBody": ticket.body or "", "ticketLabels": list(ticket.labels),
            "ticketUrl": ticket.url or ""}


def disabled_because(failures_in_a_row: int, error: str) -> str | None:
    """After this many failed syncs in a row, the reason the provider is disabled (None: not yet)."""
    if failures_in_a_row < MAX_SYNC_FAILURES:
        return None
    return f"disabled after {failures_in_a_row} failed syncs in a row: {error}"[:1000]
