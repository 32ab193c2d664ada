"""Fault: bodies too large, cut short, not UTF-8, not JSON, nested without end, or lying about
their length. Each is refused with a 4xx in our shape naming the problem, and nothing is written."""
from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.localmode import LocalMode

pytestmark = pytest.mark.xdist_group("faults-bodies")


def tasks_count(mode: LocalMode) -> int:
    return len(mode.api.ok("GET", "/api/tasks?type=all&limit=200")["items"])


def test_oversized_and_malformed_bodies(local_mode: LocalMode, repo_id: str) -> None:
    before = tasks_count(local_mode)
    auth = {"Authorization": f"Bearer {local_mode.token}", "Content-Type": "application/json"}
    start = b'{"title": "t", "prompt": "p", "repoId": "%s", "metadata": {"x": "' % repo_id.encode()
    bodies = [
        (start + b"a" * (1024 * 1024) + b'"}}', 413, "larger than 1 MiB"),
        (start + b"cut short", 400, "not valid JSON"),
        (start + b'\xff\xfe"}}', 400, "not valid JSON"),
        (b"title=t&prompt=p", 400, "not valid JSON"),
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, 400, "deeper than 32 levels"),
        (b"[" * 1_000_000, 400, "deeper than 32 levels"),
    ]
    for body, status, words in bodies:
        response = requests.post(f"{local_mode.url}/api/tasks", data=body, headers=auth, timeout=60)
        assert response.status_code == status, (body[:60], response.status_code, response.text[:300])
        assert set(response.json()) <= {"error", "details"} and words in response.text, response.text[:300]

    where = urlsplit(local_mode.url)
    lies = [b"Content-Length: 999999999999", b"Content-Length: 12abc", b"Transfer-Encoding: chunked"]
    for header in lies:
        with socket.create_connection((where.hostname, where.port), timeout=30) as sock:
            sock.sendall(b"POST /api/tasks HTTP/1.1\r\nHost: x\r\n" + header + b"\r\n\r\n{}")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert answer.split(b" ", 2)[1] in (b"400", b"411", b"413") and b'"error"' in answer, answer

    assert tasks_count(local_mode) == before
