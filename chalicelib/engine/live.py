"""The stream side of the live logs: the logs table's stream function, and the state changes of
the executions table's stream function, fanned out to the connections that follow them."""
from __future__ import annotations

from typing import Any

from chalicelib.observability import logger
from chalicelib.services import live


def handle_logs(event: dict[str, Any], context: Any) -> dict[str, int]:
    """The logs table's stream: new lines to their followers. A failure raises, so the batch is
    delivered again (a follower may then see a line twice, which it drops by its number)."""
    if live.socket_url() is None:
        return {"posted": 0}  # no WebSocket API: dashboards poll
    return {"posted": live.fan_out(event.get("Records", []), live.sender())}


def push_states(event: dict[str, Any]) -> None:
    """The executions table's batch, once handled: its state changes to their followers. Best
    effort: a dashboard that misses one still shows the state its next read finds, and the
    reconciler's batch must not be delivered again for a socket's sake."""
    if live.socket_url() is None:
        return
    try:
        live.fan_out(event.get("Records", []), live.sender())
    except Exception:  # noqa: BLE001 - see above
        logger.exception("live state changes not pushed")
