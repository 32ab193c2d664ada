"""Write-back to a ticket's tracker (Linear, Jira, Notion) on our side of the loop: a comment
linking the task when it is created for the ticket, one with the pull request when it opens, and
the ticket moved to done (or the provider's configured state) with a comment when the task
completes. GitHub issues have their own (`services.issues.announce`, the merge's close).

Each (task, event) writes once: it is claimed with a conditional put before the tracker is
called, so a stream record delivered again does not comment twice. Best effort: a tracker that
refuses is logged, and the task goes on."""
from __future__ import annotations

from typing import Any

from chalicelib.core.tickets import (
    DEFAULT_JIRA_TOKEN_SECRET,
    DEFAULT_LINEAR_KEY_SECRET,
    DEFAULT_NOTION_TOKEN_SECRET,
    ticket_ref,
    writeback_message,
)
from chalicelib.exceptions import NotFound
from chalicelib.observability import logger
from chalicelib.settings import settings
from chalicelib.store import claims, executions, secrets
from chalicelib.store import ticket_providers as providers
from chalicelib.store.models import ExecutionModel, TicketProviderModel
from chalicelib.tickets import linear
from chalicelib.tickets.jira import Jira
from chalicelib.tickets.notion import Notion

from .api_url import api_url
from .clock import utcnow


def secret_of(name: str) -> str:
    value = secrets.value_of(name)
    if not value:
        raise ValueError(f"no {name} secret")
    return value


def jira_client(config: dict[str, Any]) -> Jira:
    return Jira(config["site"], config["email"], secret_of(config.get("apiTokenSecret") or DEFAULT_JIRA_TOKEN_SECRET))


def notion_client(config: dict[str, Any]) -> Notion:
    return Notion(settings.notion_api_url, secret_of(config.get("tokenSecret") or DEFAULT_NOTION_TOKEN_SECRET))


def write_back(task_id: str, event: str) -> None:
    """Tells the task's ticket about `event` (`started`, `pr_opened`, `completed`), once."""
    try:
        task = executions.get(task_id)
    except NotFound:
        return
    ref = ticket_ref(task.metadata)
    if ref is None:
        return
    try:
        provider = providers.get(ref[0])
    except NotFound:
        return  # the provider was deleted: nobody to write to
    if provider.kind not in ("linear", "jira", "notion"):
        return
    key = f"ticket-writeback#{task.id}#{event}"
    if claims.claim(key, task.id, utcnow()) is not None:
        return
    try:
        _tell(provider, ref[1], event, task)
    except Exception:
        logger.exception("tickets.writeback_failed", extra={"taskId": task.id, "event": event,
                                                            "providerId": provider.id})


def _tell(provider: TicketProviderModel, ticket_id: str, event: str, task: ExecutionModel) -> None:
    config: dict[str, Any] = dict(provider.config or {})
    text = writeback_message(event, task.id, f"{api_url().rstrip('/')}/tasks/{task.id}", task.prUrl)
    state = config.get("doneState")
    if provider.kind == "linear":
        key = secret_of(config.get("apiKeySecret") or DEFAULT_LINEAR_KEY_SECRET)
        linear.comment(settings.linear_api_url, key, ticket_id, text)
        if event == "completed":
            linear.move_to(settings.linear_api_url, key, ticket_id, config["teamKey"], state)
    elif provider.kind == "jira":
        jira = jira_client(config)
        jira.comment(ticket_id, text)
        if event == "completed":
            jira.move_to(ticket_id, state)
    else:
        notion = notion_client(config)
        notion.comment(ticket_id, text)
        if event == "completed":
            notion.move_to(config, ticket_id)
    logger.info("tickets.written_back", extra={"taskId": task.id, "event": event, "providerId": provider.id})
