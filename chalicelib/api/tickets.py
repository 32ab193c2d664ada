"""`/api/ticket-providers` (SPEC §8): where tickets come from, and a sync on demand."""
from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.core.roles import VIEWER
from chalicelib.core.tickets import TICKET_PROVIDER_CREATE, TICKET_PROVIDER_PATCH
from chalicelib.services import tickets
from chalicelib.store import ticket_providers
from chalicelib.store.models import TicketProviderModel

from .http import JSON, body_of, created, route

bp = Blueprint(__name__)


def provider_json(provider: TicketProviderModel) -> dict[str, Any]:
    return {"id": provider.id, "kind": provider.kind, "repoId": provider.repoId,
            "agentType": provider.agentType, "config": provider.config or {},
            "enabled": bool(provider.enabled), "lastSyncAt": provider.lastSyncAt,
            "lastError": provider.lastError, "failureCount": int(provider.failureCount or 0),
            "createdAt": provider.createdAt, "updatedAt": provider.updatedAt}


@route(bp, "/api/ticket-providers", methods=["POST"], body=TICKET_PROVIDER_CREATE, status=201)
def create_ticket_provider() -> Response:
    """Add a ticket provider: github (labels, assignee or all issues) or linear (team, project, label)"""
    return created(provider_json(tickets.create_provider(body_of(bp.current_request))))


@route(bp, "/api/ticket-providers", methods=["GET"], role=VIEWER)
def list_ticket_providers() -> dict[str, Any]:
    return {"items": [provider_json(p) for p in tickets.list_providers()], "nextCursor": None}


@route(bp, "/api/ticket-providers/{provider_id}", methods=["GET"], role=VIEWER)
def get_ticket_provider(provider_id: str) -> dict[str, Any]:
    return provider_json(ticket_providers.get(provider_id))


@route(bp, "/api/ticket-providers/{provider_id}", methods=["PATCH"], body=TICKET_PROVIDER_PATCH)
def update_ticket_provider(provider_id: str) -> dict[str, Any]:
    return provider_json(tickets.update_provider(provider_id, body_of(bp.current_request)))


@route(bp, "/api/ticket-providers/{provider_id}", methods=["DELETE"], status=204)
def delete_ticket_provider(provider_id: str) -> Response:
    tickets.delete_provider(provider_id)
    return Response(body="", status_code=204, headers=JSON)


@route(bp, "/api/ticket-providers/{provider_id}/sync", methods=["POST"])
def sync_ticket_provider(provider_id: str) -> dict[str, Any]:
    """Sync one provider now: `{created: [taskId...]}`"""
    return {"created": tickets.sync_now(provider_id)}
