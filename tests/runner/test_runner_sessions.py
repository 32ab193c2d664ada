"""The session archive: what goes in, what comes back out, and what is refused."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from optio_runner.sessions import SessionError, Sessions, SessionStore, pack, unpack

DIRS = (".claude/projects",)


def home_with_a_session(root: Path) -> Path:
    home = root / "home"
    (home / ".claude" / "projects" / "-w-repo").mkdir(parents=True)
    (home / ".claude" / "projects" / "-w-repo" / "s-1.jsonl").write_text('{"prompt": "hi"}\n')
    # Configuration the adapter writes afresh each attempt, and a key: never part of a session.
    (home / ".claude" / "settings.json").write_text("{}")
    (home / ".npmrc").write_text("//registry/:_authToken=secret")
    return home


def test_a_session_comes_back_with_its_meta_and_nothing_else(tmp_path: Path) -> None:
    archive = io.BytesIO()
    assert pack(home_with_a_session(tmp_path), DIRS, {"session_cost_usd": 0.5}, archive) == 1
    archive.seek(0)
    fresh = tmp_path / "fresh"

    restored = unpack(archive, fresh, DIRS)

    assert restored.meta == {"session_cost_usd": 0.5} and restored.files == 1
    assert sorted(str(p.relative_to(fresh)) for p in fresh.rglob("*") if p.is_file()) == [
        ".claude/projects/-w-repo/s-1.jsonl"]
    assert (fresh / ".claude/projects/-w-repo/s-1.jsonl").read_text() == '{"prompt": "hi"}\n'


def test_only_the_session_dirs_are_taken_from_an_archive(tmp_path: Path) -> None:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for name in (".bashrc", ".claude/projects/-w/s.jsonl"):
            data = b"x"
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    archive.seek(0)

    restored = unpack(archive, tmp_path / "home", DIRS)

    assert restored.files == 1 and restored.meta == {}
    assert not (tmp_path / "home" / ".bashrc").exists()


def test_an_archive_reaching_out_of_home_is_refused(tmp_path: Path) -> None:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo(".claude/projects/../../../escaped")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    archive.seek(0)

    with pytest.raises(SessionError, match="not a readable archive"):
        unpack(archive, tmp_path / "a" / "home", DIRS)
    assert not (tmp_path / "escaped").exists()


def test_a_session_over_the_limit_is_not_saved_and_says_why(tmp_path: Path) -> None:
    home = home_with_a_session(tmp_path)
    (home / ".claude" / "projects" / "-w-repo" / "big.jsonl").write_bytes(json.dumps(list(range(20000))).encode())
    lines: list[str] = []
    # Port 9 (discard) on loopback: any request would fail and be logged, which the test would see.
    store = SessionStore("http://127.0.0.1:9", "tasks", "t-1", "token")

    Sessions(store, home, tmp_path / "scratch", lines.append, max_bytes=1024).save(DIRS, "s-1", {})

    assert len(lines) == 1
    assert lines[0].startswith("session s-1 is ") and "over the limit of 1 KiB: not saved" in lines[0]


def test_an_agent_that_keeps_no_session_state_saves_nothing(tmp_path: Path) -> None:
    lines: list[str] = []
    store = SessionStore("http://127.0.0.1:9", "tasks", "t-1", "token")
    sessions = Sessions(store, home_with_a_session(tmp_path), tmp_path / "scratch", lines.append)

    sessions.save((), "s-1", {})
    assert sessions.restore((), "s-1") is None
    sessions.save(DIRS, None, {})

    assert lines == ["the agent reported no session id; its session is not saved"]


def test_meta_that_is_not_json_is_logged_not_raised(tmp_path: Path) -> None:
    lines: list[str] = []
    store = SessionStore("http://127.0.0.1:9", "tasks", "t-1", "token")
    sessions = Sessions(store, home_with_a_session(tmp_path), tmp_path / "scratch", lines.append)

    sessions.save(DIRS, "s-1", {"started": object()})

    assert lines == ["could not save session s-1: Object of type object is not JSON serializable"]
