"""The only code that writes the ticket providers table."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.core.timefmt import iso

from . import rows
from .models import TicketProviderModel


def create(fields: Mapping[str, Any], now: datetime) -> TicketProviderModel:
    provider = TicketProviderModel(**fields)
    provider.createdAt = provider.updatedAt = iso(now)
    provider.save(condition=TicketProviderModel.id.does_not_exist())
    return provider


def get(provider_id: str) -> TicketProviderModel:
    return rows.get(TicketProviderModel, provider_id, "ticket provider")


def all_providers() -> list[TicketProviderModel]:
    """Providers are few (one per repo or team) and read once a minute: a scan is enough."""
    return sorted(TicketProviderModel.scan(consistent_read=True), key=lambda p: p.createdAt)


def update(provider: TicketProviderModel, changes: Mapping[str, Any], now: datetime) -> TicketProviderModel:
    actions = [getattr(TicketProviderModel, name).set(value) if value is not None
               else getattr(TicketProviderModel, name).remove()
               for name, value in {**changes, "updatedAt": iso(now)}.items()]
    provider.update(actions=actions, condition=TicketProviderModel.id.exists())
    return provider


def count_failure(provider: TicketProviderModel, error: str, now: datetime, *, limit: int,
                  disabled_reason: str) -> bool:
    """One more failed sync in a row, counted atomically (a scheduled and a manual sync may fail
    together). The failure that reaches `limit` disables the provider in the same write, so no
    reader sees a provider at the limit still enabled. True when this failure disabled it."""
    counted = [TicketProviderModel.failureCount.add(1), TicketProviderModel.lastSyncAt.set(iso(now)),
               TicketProviderModel.updatedAt.set(iso(now))]
    below_limit = TicketProviderModel.failureCount.does_not_exist() | (TicketProviderModel.failureCount < limit - 1)
    try:
        provider.update(actions=[*counted, TicketProviderModel.lastError.set(error[:1000])],
                        condition=TicketProviderModel.id.exists() & below_limit)
        return False
    except UpdateError as failure:
        if failure.cause_response_code != "ConditionalCheckFailedException":
            raise
    provider.update(actions=[*counted, TicketProviderModel.enabled.set(False),
                             TicketProviderModel.lastError.set(disabled_reason[:1000])],
                    condition=TicketProviderModel.id.exists())
    return True


def delete(provider: TicketProviderModel) -> None:
    provider.delete()
