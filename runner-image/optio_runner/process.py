"""Child processes (git, setup commands, the agent) and stopping them all at once.

Every child runs in its own process group so that stopping the attempt also reaches whatever the
child started (an agent's shells, test servers, ...). The supervisor knows the one child running at
a time; any thread may stop the attempt, and the main thread notices at its next step.
"""

from __future__ import annotations

import enum
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

# Time a stopped child gets to exit on SIGTERM before its group is killed outright.
KILL_GRACE_S = 3.0
# A grandchild that escaped the group may hold the pipes open forever; stop reading after this.
PIPE_DRAIN_S = 5.0


class StopReason(enum.Enum):
    """Why the attempt ends early; the value is the runner's exit code."""

    SUPERSEDED = 0  # the server answered 409: another attempt is current, or the task was cancelled
    UNAUTHORIZED = 1  # the server rejected the run token
    TERMINATED = 143  # SIGTERM, e.g. the pod is being deleted


class Stopped(Exception):
    def __init__(self, reason: StopReason) -> None:
        super().__init__(reason.name)
        self.reason = reason


class Supervisor:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: subprocess.Popen[bytes] | None = None
        self.reason: StopReason | None = None
        self.stopped = threading.Event()

    def check(self) -> None:
        if self.reason is not None:
            raise Stopped(self.reason)

    def stop(self, reason: StopReason) -> None:
        """Ends the attempt: signals the running child's group; the first reason wins."""
        with self._lock:
            if self.reason is not None:
                return
            self.reason = reason
            self.stopped.set()
            proc = self._current
        if proc is not None:
            _terminate_group(proc)

    def interrupt(self) -> None:
        """Ends the running child (and its group) but not the attempt, which goes on to report."""
        with self._lock:
            proc = self._current
        if proc is not None:
            _terminate_group(proc)

    def reap_current(self) -> None:
        """After stop(), on the main thread: gives the child its grace period, then kills its group."""
        with self._lock:
            proc = self._current
        if proc is None:
            return
        try:
            proc.wait(timeout=KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(proc.pid, signal.SIGKILL)

    def run(
        self, argv: Sequence[str], *, cwd: Path | None, env: Mapping[str, str]
    ) -> subprocess.CompletedProcess[str]:
        """Runs a short command to completion, capturing its output (git)."""
        proc = self._spawn(argv, cwd=cwd, env=env, stderr=subprocess.PIPE)
        out, err = proc.communicate()
        self._finished(proc)
        return subprocess.CompletedProcess(
            list(argv),
            proc.returncode,
            out.decode("utf-8", "replace"),
            err.decode("utf-8", "replace"),
        )

    def stream(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None,
        env: Mapping[str, str],
        on_stdout: Callable[[str], None],
        on_stderr: Callable[[str], None] | None = None,
    ) -> int:
        """Runs a long command, handing each output line to a callback as it arrives.

        Without `on_stderr`, stderr is merged into stdout. Returns the exit code (negative: killed
        by that signal). Raises OSError if the program cannot be started, Stopped if the attempt
        was stopped meanwhile.
        """
        proc = self._spawn(
            argv,
            cwd=cwd,
            env=env,
            stderr=subprocess.PIPE if on_stderr is not None else subprocess.STDOUT,
        )
        assert proc.stdout is not None
        readers = [_pump(proc.stdout, on_stdout)]
        if on_stderr is not None:
            assert proc.stderr is not None
            readers.append(_pump(proc.stderr, on_stderr))
        code = proc.wait()
        for reader in readers:
            reader.join(timeout=PIPE_DRAIN_S)
        self._finished(proc)
        return code

    def _spawn(
        self, argv: Sequence[str], *, cwd: Path | None, env: Mapping[str, str], stderr: int
    ) -> subprocess.Popen[bytes]:
        with self._lock:
            self.check()
            proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                start_new_session=True,
            )
            self._current = proc
        return proc

    def _finished(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            if self._current is proc:
                self._current = None
        if self.reason is not None:
            # The group leader is gone; its children that ignored SIGTERM are not.
            _signal_group(proc.pid, signal.SIGKILL)
            raise Stopped(self.reason)


def _pump(pipe: IO[bytes], callback: Callable[[str], None]) -> threading.Thread:
    def pump() -> None:
        with pipe:
            # Binary iteration splits on b"\n" only, so progress output using bare "\r" stays one
            # line instead of becoming one log line per redraw.
            for raw in pipe:
                callback(raw.decode("utf-8", "replace").rstrip("\r\n"))

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread


def _terminate_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM now, SIGKILL once the grace period is over."""
    _signal_group(proc.pid, signal.SIGTERM)
    timer = threading.Timer(KILL_GRACE_S, _signal_group, (proc.pid, signal.SIGKILL))
    timer.daemon = True
    timer.start()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
