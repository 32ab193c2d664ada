"""Ticket providers (SPEC §8): GitHub issues of a repo, Linear issues of a team, Jira Cloud
issues of a project (or JQL) and Notion database pages become tasks, synced on a schedule (and at once when an issue is labeled, through the webhook).

One run per ticket: a new ticket that a ticket trigger wants is handled by that trigger's run
alone, any other by the provider's plain task. Either way the ticket's key is claimed with a
conditional put, for the id of the one run, before anything is created; the key is the one a
GitHub issue assigned by hand claims too, so every path (syncs, webhooks, assignments, triggers)
races for the same key and one wins."""
from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from chalicelib.core.naming import branch_name
from chalicelib.core.tickets import (
    DEFAULT_LINEAR_KEY_SECRET,
    MAX_SYNC_FAILURES,
    TICKET_PROVIDER_CREATE,
    TICKET_PROVIDER_PATCH,
    Ticket,
    disabled_because,
    ticket_key,
    ticket_task,
    wanted_github,
)
from chalicelib.core.timefmt import iso
from chalicelib.core.validation import FieldProblem
from chalicelib.engine.clock import utcnow
from chalicelib.engine.ticket_writeback import jira_client, notion_client, write_back
from chalicelib.exceptions import Conflict, ValidationFailed
from chalicelib.forge.github import Forge, ForgeError, NotConfigured, Throttled, full_name_of
from chalicelib.observability import logger
from chalicelib.settings import settings
from chalicelib.store import claims, repos, secrets
from chalicelib.store import ticket_providers as store
from chalicelib.store.models import ExecutionModel, TicketProviderModel
from chalicelib.tickets import linear
from chalicelib.tickets.rest import TicketApiError

from .issues import announce
from .tasks import create_task
from .triggers import fire_ticket_trigger, ticket_trigger_for
from .validation import require_valid


def create_provider(body: Any) -> TicketProviderModel:
    given = require_valid(TICKET_PROVIDER_CREATE, body)
    repo = repos.get(given["repoId"])
    if given["kind"] == "github" and full_name_of(repo.repoUrl) is None:
        raise ValidationFailed("not a GitHub repository",
                               [FieldProblem("repoId", "a github provider needs a repository on GitHub")])
    fields = {"id": str(uuid.uuid4()), "kind": given["kind"], "repoId": repo.id,
              "agentType": given.get("agentType"), "config": given.get("config") or {},
              "enabled": given.get("enabled", True)}
    return store.create(fields, utcnow())


def list_providers() -> list[TicketProviderModel]:
    return store.all_providers()


def update_provider(provider_id: str, body: Any) -> TicketProviderModel:
    changes = require_valid(TICKET_PROVIDER_PATCH, body)
    provider = store.get(provider_id)
    if changes.get("enabled") and not provider.enabled:
        changes["failureCount"] = 0  # enabled again, presumably fixed: a fresh count
    return store.update(provider, changes, utcnow())


def delete_provider(provider_id: str) -> None:
    store.delete(store.get(provider_id))


def sync_now(provider_id: str) -> list[str]:
    """`POST .../sync`: what GitHub or Linear refused is a 409 with the reason, also kept on the provider."""
    provider = store.get(provider_id)
    try:
        return sync_provider(provider)
    except (NotConfigured, Throttled, ForgeError, linear.LinearError, TicketApiError, ValueError) as error:
        _record_failure(provider, error)
        raise Conflict(f"sync failed: {error}") from None


def _record_failure(provider: TicketProviderModel, error: Exception) -> None:
    """GitHub throttling is waited out, never held against the provider."""
    if isinstance(error, Throttled):
        store.update(provider, {"lastError": str(error)[:1000], "lastSyncAt": iso(utcnow())}, utcnow())
        return
    if store.count_failure(provider, str(error), utcnow(), limit=MAX_SYNC_FAILURES,
                           disabled_reason=disabled_because(str(error))):
        logger.warning("tickets.provider_disabled", extra={"providerId": provider.id, "error": str(error)})


def sync_all() -> dict[str, int]:
    """The scheduled sync: every enabled provider; one provider's failure is recorded on it."""
    totals = {"providers": 0, "created": 0, "failed": 0}
    for provider in store.all_providers():
        if not provider.enabled:
            continue
        totals["providers"] += 1
        try:
            totals["created"] += len(sync_provider(provider))
        except Exception as error:  # noqa: BLE001 - recorded on the provider, the rest go on
            totals["failed"] += 1
            logger.warning("tickets.sync_failed", extra={"providerId": provider.id, "error": str(error)})
            _record_failure(provider, error)
    return totals


def sync_github_repo(full_name: str) -> int:
    """An issue was labeled on GitHub: sync that repository's github providers now."""
    created = 0
    for provider in store.all_providers():
        if provider.enabled and provider.kind == "github":
            repo = repos.get(provider.repoId)
            if full_name_of(repo.repoUrl) == full_name.lower():
                created += len(sync_provider(provider))
    return created


def sync_provider(provider: TicketProviderModel) -> list[str]:
    """Creates the tasks of the provider's new tickets; returns their ids."""
    config: dict[str, Any] = dict(provider.config or {})
    repo = repos.get(provider.repoId)
    forge: Forge | None = None
    if provider.kind == "github":
        full_name = full_name_of(repo.repoUrl)
        if full_name is None:
            raise ValueError("the provider's repository is not on GitHub")
        forge = Forge.connect()
        issues = {str(i.number): i for i in forge.open_issues(full_name)}
        tickets = [t for t in (_github_ticket(i) for i in issues.values()) if wanted_github(config, t)]
    elif provider.kind == "jira":
        tickets = jira_client(config).fetch(config)
    elif provider.kind == "notion":
        tickets = notion_client(config).fetch(config)
    else:
        secret = config.get("apiKeySecret") or DEFAULT_LINEAR_KEY_SECRET
        api_key = secrets.value_of(secret)
        if not api_key:
            raise ValueError(f"no {secret} secret for the Linear API key")
        tickets = linear.fetch(settings.linear_api_url, api_key, config)
    created: list[str] = []
    for ticket in tickets:
        key = ticket_key(provider.repoId, ticket)
        if claims.holder(key) is not None:
            continue
        if forge is not None:
            ticket = dataclasses.replace(ticket, comments=tuple(forge.comments(issues[ticket.key])))
        task_id = str(uuid.uuid4())
        if claims.claim(key, task_id, utcnow()) is not None:
            continue
        try:
            task = _handle(provider, repo.id, ticket, task_id)
        except Exception:
            claims.release(key, task_id)
            raise
        created.append(task.id)
        logger.info("tickets.task_created", extra={"providerId": provider.id, "taskId": task.id,
                                                   "ticket": ticket.identifier or ticket.key})
        if forge is not None and full_name_of(repo.repoUrl) and isinstance(task, ExecutionModel):
            announce(forge, str(full_name_of(repo.repoUrl)), int(ticket.key), task)
        elif forge is None:
            write_back(task.id, "started")
    store.update(provider, {"lastSyncAt": iso(utcnow()), "lastError": None, "failureCount": 0}, utcnow())
    return created


def _handle(provider: TicketProviderModel, repo_id: str, ticket: Ticket,
            run_id: str) -> ExecutionModel:
    """The one run of a ticket claimed for `run_id`: the handling trigger's, or (no trigger wants
    it, or its run was refused) the provider's plain task."""
    handler = ticket_trigger_for(ticket)
    run = fire_ticket_trigger(*handler, ticket, run_id, provider.id) if handler is not None else None
    if run is not None:
        return run
    body: dict[str, Any] = {**ticket_task(ticket), "repoId": repo_id}
    body["metadata"]["ticketProviderId"] = provider.id
    if provider.agentType:
        body["agentType"] = provider.agentType
    return create_task(body, id=run_id, branchName=branch_name(body["title"], run_id))


def _github_ticket(issue: Any) -> Ticket:
    return Ticket(source="github", key=str(issue.number), title=str(issue.title), body=issue.body,
                  url=issue.html_url, labels=tuple(label.name for label in issue.labels),
                  assignee=issue.assignee.login if issue.assignee else None)
