"""Ticket providers (SPEC §8), the pure parts: the request bodies, which GitHub issues a provider
takes, and the task a ticket becomes."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .schemas import AGENT_TYPES

PROVIDER_KINDS = ("github", "linear", "jira", "notion")
# A provider whose sync fails this many times in a row is disabled, with the last error kept.
MAX_SYNC_FAILURES = 5
DEFAULT_LINEAR_KEY_SECRET = "LINEAR_API_KEY"
DEFAULT_JIRA_TOKEN_SECRET = "JIRA_API_TOKEN"
DEFAULT_NOTION_TOKEN_SECRET = "NOTION_TOKEN"
_SECRET_NAME: dict[str, Any] = {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,127}$"}
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
        # The workflow state a completed task moves its issue to (default: the first completed one).
        "doneState": {"type": "string", "minLength": 1, "maxLength": 100},
    },
}

# Jira Cloud: the site, which issues (a project and optional label, or a JQL query of one's own),
# the account email and the secret holding its API token, and the status a completed task moves
# its ticket to.
_config_jira: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["site", "email"],
    "anyOf": [{"required": ["projectKey"]}, {"required": ["jql"]}],
    "properties": {
        "site": {"type": "string", "pattern": "^https?://[^\\s/]+(:[0-9]+)?/?$", "maxLength": 300},
        "projectKey": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]{0,49}$"},
        "jql": {"type": "string", "minLength": 1, "maxLength": 2000},
        "label": {"type": "string", "minLength": 1, "maxLength": 100},
        "email": {"type": "string", "minLength": 3, "maxLength": 300},
        "apiTokenSecret": _SECRET_NAME,
        "doneState": {"type": "string", "minLength": 1, "maxLength": 100},
    },
}
# Notion: a database whose pages are tickets; the properties that hold their state and labels;
# the state values that mean "to do" (synced) and "done" (set when the task completes).
_config_notion: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["databaseId"],
    "properties": {
        "databaseId": {"type": "string", "pattern": "^[0-9a-fA-F-]{32,36}$"},
        "statusProperty": {"type": "string", "minLength": 1, "maxLength": 100},
        "labelsProperty": {"type": "string", "minLength": 1, "maxLength": 100},
        "label": {"type": "string", "minLength": 1, "maxLength": 100},
        "todoState": {"type": "string", "minLength": 1, "maxLength": 100},
        "doneState": {"type": "string", "minLength": 1, "maxLength": 100},
        "tokenSecret": _SECRET_NAME,
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
        {"if": {"properties": {"kind": {"const": "jira"}}},
         "then": {"required": ["config"], "properties": {"config": _config_jira}}},
        {"if": {"properties": {"kind": {"const": "notion"}}},
         "then": {"required": ["config"], "properties": {"config": _config_notion}}},
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

    source: str  # github | linear | jira | notion
    key: str  # unique within the source: the issue number, Linear's issue id, Jira's issue key, Notion's page id
    title: str
    body: str | None
    url: str | None
    labels: tuple[str, ...] = ()
    assignee: str | None = None
    comments: tuple[str, ...] = ()
    identifier: str | None = None  # Linear's "ENG-12", Jira's "ENG-12"


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


def disabled_because(error: str) -> str:
    """Why a provider is disabled once MAX_SYNC_FAILURES syncs in a row failed, the last with
    `error` (the store disables it in the write that counts that failure)."""
    return f"disabled after {MAX_SYNC_FAILURES} failed syncs in a row: {error}"[:1000]


def jira_jql(config: Mapping[str, Any]) -> str:
    """The JQL a jira provider syncs: its own, or the project's open issues (with the label)."""
    if config.get("jql"):
        return str(config["jql"])
    clauses = [f'project = "{config["projectKey"]}"', "statusCategory != Done"]
    if config.get("label"):
        clauses.append(f'labels = "{_jql_escaped(str(config["label"]))}"')
    return " AND ".join(clauses) + " ORDER BY created ASC"


def _jql_escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def adf_text(node: Any) -> str:
    """The plain text of an Atlassian Document Format value (Jira v3's rich text fields)."""
    if isinstance(node, str):
        return node
    if not isinstance(node, Mapping):
        return ""
    if node.get("type") == "text":
        return str(node.get("text") or "")
    parts = [adf_text(child) for child in node.get("content") or []]
    joiner = "\n" if node.get("type") == "doc" else ""
    return joiner.join(p for p in parts if p) if joiner else "".join(parts)


def adf_paragraph(text: str) -> dict[str, Any]:
    """`text` as an ADF document of one paragraph (a link, where it holds a URL, stays text)."""
    return {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}


def jira_ticket(site: str, issue: Mapping[str, Any]) -> Ticket:
    fields = issue.get("fields") or {}
    key = str(issue["key"])
    assignee = fields.get("assignee") or {}
    return Ticket(source="jira", key=key, identifier=key, title=str(fields.get("summary") or ""),
                  body=adf_text(fields.get("description")) or None, url=f"{site.rstrip('/')}/browse/{key}",
                  labels=tuple(str(label) for label in fields.get("labels") or []),
                  assignee=assignee.get("displayName"))


def notion_text(rich_text: Any) -> str:
    return "".join(str(part.get("plain_text") or "") for part in rich_text or [] if isinstance(part, Mapping))


def notion_ticket(page: Mapping[str, Any], labels_property: str | None) -> Ticket:
    """A database page: its title property is the title; `labels_property` (multi-select) the labels."""
    properties = page.get("properties") or {}
    title = next((notion_text(p.get("title")) for p in properties.values()
                  if isinstance(p, Mapping) and p.get("type") == "title"), "")
    labels: tuple[str, ...] = ()
    if labels_property and isinstance(properties.get(labels_property), Mapping):
        labels = tuple(str(o.get("name")) for o in properties[labels_property].get("multi_select") or [])
    return Ticket(source="notion", key=str(page["id"]), title=title, body=None, url=page.get("url"), labels=labels)


def notion_filter(config: Mapping[str, Any], status_type: str | None) -> dict[str, Any] | None:
    """The database query's filter: pages in the to-do state (of a `status` or `select`
    property), carrying the label; None: every page."""
    clauses: list[dict[str, Any]] = []
    if config.get("statusProperty") and config.get("todoState") and status_type in ("status", "select"):
        clauses.append({"property": config["statusProperty"], status_type: {"equals": config["todoState"]}})
    if config.get("labelsProperty") and config.get("label"):
        clauses.append({"property": config["labelsProperty"], "multi_select": {"contains": config["label"]}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"and": clauses}


# What a ticket is told on our side of the loop, by the task's event.
WRITEBACK_EVENTS = ("started", "pr_opened", "completed")


def writeback_message(event: str, task_id: str, task_url: str, pr_url: str | None) -> str:
    if event == "started":
        return f"Optio is working on this ticket: task {task_id} ({task_url})."
    if event == "pr_opened":
        return f"Optio opened a pull request for this ticket: {pr_url or task_url}"
    return f"Optio completed this ticket's task {task_id}" + (f"; pull request {pr_url}" if pr_url else "") + "."


def writeback_event(old_state: str | None, new_state: str | None) -> str | None:
    """The write-back a task's state change asks for, if any."""
    if new_state == old_state:
        return None
    if new_state == "pr_opened":
        return "pr_opened"
    if new_state == "completed":
        return "completed"
    return None


def ticket_ref(metadata: Any) -> tuple[str, str] | None:
    """(provider id, ticket key) of the ticket a task works on: a provider's plain task keeps it in
    its metadata, a ticket trigger's run in the trigger that fired it; None for other tasks."""
    meta = metadata if isinstance(metadata, Mapping) else {}
    for where in (meta, meta.get("trigger")):
        if isinstance(where, Mapping) and where.get("ticketProviderId") and where.get("ticketId"):
            return str(where["ticketProviderId"]), str(where["ticketId"])
    return None
