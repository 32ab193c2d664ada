"""Queue order: with one slot, queued tasks start in the order `reorder` gives them."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.gitrepo import make_bare_repo
from tests.support.localmode import LocalMode, start_local_mode

pytestmark = pytest.mark.xdist_group("e2e-reorder")


@pytest.fixture(scope="module")
def one_slot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMode]:
    mode = start_local_mode(tmp_path_factory.mktemp("one-slot"), OPTIO_MAX_CONCURRENT="1")
    yield mode
    mode.stop()


def test_reorder_changes_the_start_order(one_slot: LocalMode, tmp_path: Path) -> None:
    api = one_slot.api
    repo = api.ok("POST", "/api/repos", {"repoUrl": str(make_bare_repo(tmp_path))}, status=201)

    def create(title: str, prompt: str) -> str:
        body = {"title": title, "prompt": prompt, "repoId": repo["id"]}
        return str(api.ok("POST", "/api/tasks", body, status=201)["id"])

    blocker = create("Blocker", "[fake:sleep=2] hold the only slot")
    api.wait_state(blocker, "running")
    first, second, third = (create(name, f"[fake:file={name}.txt] go") for name in ("one", "two", "three"))
    for task_id in (first, second, third):
        api.wait_state(task_id, "queued")
    # All at priority 0: "three" cannot go lower, so the two it passes move one level back.
    assert api.ok("POST", "/api/tasks/reorder", {"taskIds": [third, first, second]}) == {"affected": 2, "total": 3}
    assert [api.task(t)["priority"] for t in (third, first, second)] == [0, 1, 1]
    finished = [api.wait_state(t, "completed", timeout_s=60) for t in (first, second, third)]
    order = [t["id"] for t in sorted(finished, key=lambda t: t["startedAt"])]
    assert order == [third, first, second]
