"""The whole system in one process, with the same handlers as on AWS (ARCHITECTURE "Local mode").

DynamoDB Local (or `OPTIO_DYNAMODB_ENDPOINT`) stands in for DynamoDB, a stream poller for the
Lambda stream trigger, a ticker for EventBridge, Chalice's local server for API Gateway, and the
local launcher for EKS.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from .bootstrap import prepare
from .dynamodb_local import DynamoDBLocal

REPO_ROOT = Path(__file__).resolve().parents[2]
# Schedule triggers are checked this often locally unless OPTIO_WORKFLOW_TRIGGER_INTERVAL is set.
LOCAL_TRIGGER_INTERVAL_MS = 3000
DEPS_DIR = REPO_ROOT / ".deps"


class LocalStack:
    def __init__(self, env: MutableMapping[str, str] | None = None) -> None:
        self._env = os.environ if env is None else env
        self._ddb: DynamoDBLocal | None = None
        self._parts: list[Any] = []
        self._server: Any = None
        self._server_thread: threading.Thread | None = None
        self._app: Any = None
        self._wake_poller: Any = None
        self._wake_ups: Any = None
        self._live: Any = None
        self.url = ""
        self.token = ""

    def start(self, serve: bool = True, engine: bool = True) -> None:
        data_dir = prepare(self._env)
        if not self._env.get("OPTIO_DYNAMODB_ENDPOINT"):
            self._ddb = DynamoDBLocal(
                DEPS_DIR, db_path=data_dir / "dynamodb", log_path=data_dir / "dynamodb.log"
            )
            self._ddb.start()
            self._env["OPTIO_DYNAMODB_ENDPOINT"] = self._ddb.endpoint
        # Settings are read at import: everything below sees the environment prepared above.
        from chalicelib.settings import settings
        from chalicelib.store.models import ExecutionLogModel, ExecutionModel
        from chalicelib.store.tables import create_all

        create_all()
        from chalicelib.services import legacy, reencrypt

        if legacy.pending():  # data of the version before the executions table: moved over once
            legacy.migrate()
        if len(settings.secrets_key.values()) > 1:  # a rotation (README "Rotating keys"): finished on start
            reencrypt.reencrypt_all()
        from app import app, execution_stream, execution_timer, log_stream, periodic_resync, trigger_tick
        from chalicelib.engine import timers as engine_timers

        from .stream_poller import LocalLambdaContext, StreamPoller
        from .ticker import Ticker
        from .timers import LocalTimers

        assert settings.dynamodb_endpoint is not None
        table: str = ExecutionModel.Meta.table_name
        # A child of powertools' "optio" logger, so its records come out as the same JSON.
        poller = StreamPoller(settings.dynamodb_endpoint, table, execution_stream, region=settings.region,
                              logger=logging.getLogger("optio.streams"))
        # The live logs: new lines to the sockets following them, as the log stream function on AWS.
        log_poller = StreamPoller(settings.dynamodb_endpoint, ExecutionLogModel.Meta.table_name, log_stream,
                                  region=settings.region, logger=logging.getLogger("optio.streams"),
                                  function_name="log_stream")
        ticker = Ticker("resync", settings.resync_interval_ms / 1000, periodic_resync,
                        lambda: LocalLambdaContext(function_name="resync"))
        trigger_ticker = Ticker(
            "trigger_tick", (settings.workflow_trigger_interval_ms or LOCAL_TRIGGER_INTERVAL_MS) / 1000,
            trigger_tick, lambda: LocalLambdaContext(function_name="trigger_tick"))
        if engine:
            from app import periodic_ticket_sync
            from chalicelib.forge.watcher import Watcher

            watcher = Watcher()
            ticket_ticker = Ticker("ticket_sync", settings.ticket_sync_interval_ms / 1000, periodic_ticket_sync,
                                   lambda: LocalLambdaContext(function_name="ticket_sync"))
            poller.start()
            log_poller.start()

            def wake_poller(request: Any, get_response: Any) -> Any:
                # A request that may have written wakes the pollers: its stream records are
                # handled now, as Lambda's trigger would, not at the next idle poll.
                response = get_response(request)
                if request.method not in ("GET", "HEAD", "OPTIONS"):
                    poller.wake()
                    log_poller.wake()
                return response

            app.register_middleware(wake_poller, "http")
            self._app, self._wake_poller = app, wake_poller
            wake_ups = LocalTimers(execution_timer, lambda: LocalLambdaContext(function_name="execution_timer"))
            wake_ups.start()
            engine_timers.use_local(wake_ups)
            self._wake_ups = wake_ups
            ticker.start()
            trigger_ticker.start()
            watcher.start()
            ticket_ticker.start()
            self._parts = [poller, log_poller, ticker, trigger_ticker, watcher, ticket_ticker, wake_ups]
        self.token = settings.api_token.newest()
        self.url = f"http://{settings.host}:{settings.port}"
        if serve:
            from chalicelib.services import live

            from .live_socket import PATH, LiveSockets
            from .server import make_server

            sockets = LiveSockets(settings.host, settings.port)
            live.use_local(sockets.send, f"ws://{settings.host}:{settings.port}{PATH}")
            self._live = sockets
            self._server = make_server(app, settings.host, settings.port, sockets)
            self._server_thread = threading.Thread(
                target=self._server.server.serve_forever, name="http", daemon=True
            )
            self._server_thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
        if self._live is not None:
            from chalicelib.services import live

            live.release_local(self._live.send)
            self._live.close_all()
            self._live = None
        if self._app is not None:
            self._app.middleware_handlers.remove((self._wake_poller, "http"))
            self._app = None
        if self._wake_ups is not None:
            from chalicelib.engine import timers

            timers.release_local(self._wake_ups)
            self._wake_ups = None
        for part in reversed(self._parts):
            part.stop()
        from chalicelib.launch import get_launcher

        launcher = get_launcher()
        shutdown = getattr(launcher, "shutdown", None)
        if shutdown is not None:
            shutdown()
        if self._ddb is not None:
            self._ddb.stop()
