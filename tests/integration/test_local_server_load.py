"""The local server under a burst: 20 clients, each sending 5 requests at once on 5 connections
of its own, get 100 answers, none reset and none a 5xx."""
from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest
import requests

from tests.support.localmode import LocalMode

pytestmark = pytest.mark.xdist_group("stack")

CLIENTS, REQUESTS_EACH = 20, 5


def test_a_burst_of_100_requests_from_20_clients_is_served(stack: LocalMode) -> None:
    auth = {"Authorization": f"Bearer {stack.token}"}
    calls = [
        lambda: requests.get(f"{stack.url}/api/health", timeout=60),
        lambda: requests.get(f"{stack.url}/api/tasks?limit=5", headers=auth, timeout=60),
        lambda: requests.post(f"{stack.url}/api/auth/session", json={"token": stack.token}, timeout=60),
        lambda: requests.post(f"{stack.url}/api/auth/session", json={"token": "wrong"}, timeout=60),
        lambda: requests.get(f"{stack.url}/api/repos", headers=auth, timeout=60),
    ]
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS * REQUESTS_EACH)

    def request(call: Callable[[], requests.Response]) -> None:
        start.wait()
        try:
            status = call().status_code
        except requests.RequestException as error:
            with lock:
                failures.append(repr(error))
            return
        with lock:
            statuses[status] += 1

    threads = [threading.Thread(target=request, args=(call,))
               for _ in range(CLIENTS) for call in calls[:REQUESTS_EACH]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert statuses == {200: CLIENTS * 4, 401: CLIENTS}
