"""The task list's reads stay bounded against a real DynamoDB: a sort without an index refuses past
its bound rather than ordering part of the tasks, and a search that finds little stops reading
and hands back a cursor that goes on."""
from __future__ import annotations

import uuid

import pytest

from chalicelib.core import task_list as core
from chalicelib.core.task_list import Order
from chalicelib.exceptions import ValidationFailed
from chalicelib.services.task_list import Filters, list_tasks
from chalicelib.store.models import ExecutionModel
from chalicelib.store.tables import create_all


@pytest.fixture(scope="module", autouse=True)
def tables() -> None:
    create_all()


@pytest.fixture(scope="module")
def crowded_repo() -> str:
    """A repository with one task more than a sort reads, one in 500 titled "needle"."""
    repo_id = str(uuid.uuid4())
    with ExecutionModel.batch_write() as batch:
        for n in range(core.SORT_READ_BOUND + 1):
            batch.save(ExecutionModel(
                id=str(uuid.uuid4()), state="completed", title="needle" if n % 500 == 0 else f"task {n}", prompt="p",
                repoId=repo_id, repoUrl="file:///nowhere", agentType="claude-code", costUsd=n / 100,
                createdAt=f"2026-12-01T00:00:00.{n:04d}Z", updatedAt="2026-12-01T00:00:00.000Z"))
    return repo_id


def test_a_sort_past_its_bound_is_refused_naming_sort(crowded_repo: str) -> None:
    filters = Filters(state=None, repo_id=crowded_repo, created_by=None, needle=None)
    with pytest.raises(ValidationFailed) as refused:
        list_tasks(filters, Order("cost", descending=True), 10, None)
    assert [p.field for p in refused.value.details] == ["sort"]
    # Newest first walks the index: no bound.
    assert len(list_tasks(filters, Order("created", descending=True), 10, None).items) == 10


def test_a_sparse_search_reads_a_budget_per_page_and_goes_on(crowded_repo: str) -> None:
    filters = Filters(state=None, repo_id=crowded_repo, created_by=None, needle="needle")
    found, cursor, requests = [], None, 0
    while True:
        page = list_tasks(filters, Order("created", descending=True), 50, cursor)
        requests += 1
        found.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [t.title for t in found] == ["needle"] * 5
    assert [t.createdAt for t in found] == sorted((t.createdAt for t in found), reverse=True)
    # 2,001 tasks read at most a budget at a time.
    assert requests == -(-(core.SORT_READ_BOUND + 1) // core.SEARCH_READ_BUDGET)
