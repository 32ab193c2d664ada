"""The agent's session state, kept between attempts: each attempt's agent has a fresh HOME in a
workspace that does not outlive it, so after the agent exits its session (the adapter's
`session_dirs` under HOME, plus the adapter's `session_meta`) is saved as a tar.gz through the
API, and restored into the next attempt's HOME before a resume.

The API says where the bytes go and the runner moves them itself: `POST .../sessions/<id>/upload`
(or `/download`) answers {url, headers}, then a PUT (or GET) of that url with those headers. On
AWS the url is a presigned S3 URL, locally a signed link to the API; the pod holds no storage
credentials either way. A failure here never fails the attempt: it is logged, and a resume that
finds nothing fails in the agent, which says it found no conversation.
"""

from __future__ import annotations

import http.client
import io
import json
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

# Transcripts of long sessions run to a few MiB; far more than that is not a session.
MAX_ARCHIVE_BYTES = 64 * 1024 * 1024
META_NAME = "optio-session.json"
TIMEOUT_S = 60.0
TRIES = 3
FIRST_DELAY_S = 0.5
CHUNK = 1024 * 1024


class SessionError(Exception):
    """A save or restore that could not be done; the message is for the attempt's log."""


@dataclass(frozen=True)
class Restored:
    meta: dict[str, Any]
    files: int


def pack(home: Path, dirs: Sequence[str], meta: Mapping[str, Any], out: IO[bytes]) -> int:
    """Writes the archive of `dirs` (relative to `home`) and the meta; the number of files in it."""
    files = 0
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for relative in dirs:
            root = home / relative
            if not root.is_dir():
                continue
            for path in sorted(root.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    tar.add(path, arcname=str(path.relative_to(home)), recursive=False)
                    files += 1
        raw = json.dumps(dict(meta)).encode()
        info = tarfile.TarInfo(META_NAME)
        info.size = len(raw)
        info.mtime = int(time.time())
        tar.addfile(info, io.BytesIO(raw))
    return files


def unpack(archive: IO[bytes], home: Path, dirs: Sequence[str]) -> Restored:
    """Extracts the session dirs into `home` (nothing else, nothing outside it); returns the meta."""
    home.mkdir(parents=True, exist_ok=True)
    prefixes = tuple(d.rstrip("/") + "/" for d in dirs)
    meta: dict[str, Any] = {}
    try:
        with tarfile.open(fileobj=archive, mode="r:gz") as tar:
            members = []
            for member in tar:
                if member.name == META_NAME:
                    handle = tar.extractfile(member)
                    loaded = json.loads(handle.read()) if handle is not None else {}
                    meta = loaded if isinstance(loaded, dict) else {}
                elif member.isfile() and member.name.startswith(prefixes):
                    members.append(member)
            # The "data" filter refuses absolute paths, "..", links out of `home` and device files.
            tar.extractall(home, members=members, filter="data")
    except (tarfile.TarError, OSError, ValueError) as exc:
        raise SessionError(f"the saved session is not a readable archive: {exc}") from None
    return Restored(meta, len(members))


class SessionStore:
    """The API's sessions routes for one owner (a task or a workflow run), with the run token."""

    def __init__(self, api_url: str, channel: str, owner_id: str, token: str) -> None:
        self._base = f"{api_url}/api/internal/{channel}/{urllib.parse.quote(owner_id, safe='')}/sessions"
        self._token = token

    def upload(self, session_id: str, archive: IO[bytes], size: int) -> None:
        target = self._ask(session_id, "upload")
        if target is None:
            raise SessionError("the API has nowhere to put the session")

        def put() -> None:
            archive.seek(0)
            headers = {**target[1], "Content-Length": str(size)}
            request = urllib.request.Request(target[0], data=archive, method="PUT", headers=headers)
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                response.read()

        _with_retries(put, "storing the session")

    def download(self, session_id: str, out: IO[bytes]) -> bool:
        """Writes the saved archive to `out`; False when none was saved."""
        target = self._ask(session_id, "download")
        if target is None:
            return False

        def get() -> None:
            out.seek(0)
            out.truncate()
            request = urllib.request.Request(target[0], method="GET", headers=target[1])
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                copied = 0
                while chunk := response.read(CHUNK):
                    copied += len(chunk)
                    if copied > MAX_ARCHIVE_BYTES:
                        raise SessionError(f"the saved session is larger than {_size(MAX_ARCHIVE_BYTES)}")
                    out.write(chunk)

        _with_retries(get, "fetching the session")
        out.seek(0)
        return True

    def _ask(self, session_id: str, action: str) -> tuple[str, dict[str, str]] | None:
        """{url, headers} from the API; None when it answers 404 (no such session saved)."""
        url = f"{self._base}/{urllib.parse.quote(session_id, safe='')}/{action}"
        found: list[tuple[str, dict[str, str]] | None] = []

        def ask() -> None:
            request = urllib.request.Request(url, data=b"{}", method="POST", headers={
                "Authorization": f"Bearer {self._token}", "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                    answer = json.loads(response.read())
            except urllib.error.HTTPError as exc:
                if exc.code != 404:
                    raise
                exc.close()
                found.append(None)
                return
            found.append((str(answer["url"]), {str(k): str(v) for k, v in answer.get("headers", {}).items()}))

        _with_retries(ask, f"asking the API where the session goes ({action})")
        return found[-1]


def _with_retries(action: Callable[[], None], what: str) -> None:
    """Network errors, 5xx and 429 are tried again, a little later; anything else is final."""
    delay = FIRST_DELAY_S
    for attempt in range(1, TRIES + 1):
        try:
            action()
            return
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace").strip()
            exc.close()
            problem = f"HTTP {exc.code}: {detail}" if detail else f"HTTP {exc.code}"
            if exc.code < 500 and exc.code != 429:
                raise SessionError(f"{what} failed with {problem}") from None
        except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        if attempt == TRIES:
            raise SessionError(f"{what} failed after {TRIES} tries: {problem}")
        time.sleep(delay)
        delay *= 2


def _files(count: int) -> str:
    return "1 file" if count == 1 else f"{count} files"


def _size(size: int) -> str:
    mib = 1024 * 1024
    return f"{size / mib:.1f} MiB" if size >= mib else f"{max(1, round(size / 1024))} KiB"


class Sessions:
    """What the runner does around the agent: restore before a resume, save after every run."""

    def __init__(self, store: SessionStore, home: Path, scratch: Path, log: Callable[[str], None],
                 max_bytes: int = MAX_ARCHIVE_BYTES) -> None:
        self._store = store
        self._home = home
        self._scratch = scratch  # where the archive is built, beside HOME in the workspace
        self._log = log
        self._max_bytes = max_bytes

    def restore(self, dirs: Sequence[str], session_id: str) -> dict[str, Any] | None:
        """The saved session's meta once its files are in HOME; None when there was none."""
        if not dirs:
            return None
        try:
            with self._archive_file() as archive:
                if not self._store.download(session_id, archive):
                    self._log(f"no saved session {session_id} to restore; the agent starts without it")
                    return None
                restored = unpack(archive, self._home, dirs)
        except SessionError as exc:
            self._log(f"could not restore session {session_id}: {exc}")
            return None
        self._log(f"restored session {session_id} ({_files(restored.files)})")
        return restored.meta

    def save(self, dirs: Sequence[str], session_id: str | None, meta: Mapping[str, Any]) -> None:
        if not dirs:
            return
        if session_id is None:
            self._log("the agent reported no session id; its session is not saved")
            return
        try:
            with self._archive_file() as archive:
                files = pack(self._home, dirs, meta, archive)
                size = archive.tell()
                if files == 0:
                    self._log(f"the agent left no session files under {', '.join(dirs)}; nothing to save")
                    return
                if size > self._max_bytes:
                    self._log(f"session {session_id} is {_size(size)} compressed, over the limit of "
                              f"{_size(self._max_bytes)}: not saved, so a resume will find no conversation")
                    return
                self._store.upload(session_id, archive, size)
        except (SessionError, OSError, TypeError, ValueError) as exc:  # TypeError: meta that is not JSON
            self._log(f"could not save session {session_id}: {exc}")
            return
        self._log(f"saved session {session_id} ({_files(files)}, {_size(size)})")

    def _archive_file(self) -> IO[bytes]:
        self._scratch.mkdir(parents=True, exist_ok=True)
        return tempfile.TemporaryFile(dir=self._scratch)

