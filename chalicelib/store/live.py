"""The only code that writes the live connections table (`LiveConnectionModel`)."""
from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import UpdateError

from chalicelib.core.live import CONNECTION_TTL_S
from chalicelib.core.timefmt import iso

from .models import LiveConnectionModel

_FAILED = "ConditionalCheckFailedException"


def opened(connection_id: str, principal: str, now: datetime) -> None:
    LiveConnectionModel(connection_id, principal=principal, connectedAt=iso(now),
                        expiresAt=now + timedelta(seconds=CONNECTION_TTL_S)).save()


def follow(connection_id: str, execution_id: str) -> bool:
    """The connection follows this execution now (one at a time); False if it is closed."""
    try:
        LiveConnectionModel(connection_id).update(
            actions=[LiveConnectionModel.executionId.set(execution_id)],
            condition=LiveConnectionModel.connectionId.exists())
    except UpdateError as error:
        if error.cause_response_code == _FAILED:
            return False
        raise
    return True


def followers(execution_id: str) -> list[str]:
    """The connections following an execution (the index is eventually consistent: a subscribe
    this instant may miss a line, which its replay then gives)."""
    return [row.connectionId for row in LiveConnectionModel.subscriber_index.query(execution_id)]


def closed(connection_id: str) -> None:
    LiveConnectionModel(connection_id).delete()
