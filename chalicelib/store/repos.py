"""The only code that writes the repos table."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.core.timefmt import iso
from chalicelib.exceptions import Conflict, NotFound

from .connection import connection
from .models import RepoModel, UniqueKeyModel
from .pages import Page, decode_cursor, encode_cursor


def _url_key(repo_url: str) -> str:
    return f"repo-url#{repo_url}"


def create(fields: Mapping[str, Any], now: datetime) -> RepoModel:
    """The URL is claimed in the same transaction, so two racing registrations make one repo."""
    repo = RepoModel(**fields)
    repo.createdAt = repo.updatedAt = iso(now)
    claim = UniqueKeyModel(key=_url_key(repo.repoUrl), ref=repo.id, createdAt=repo.createdAt)
    try:
        with TransactWrite(connection=connection()) as txn:
            txn.save(claim, condition=UniqueKeyModel.key.does_not_exist())
            txn.save(repo, condition=RepoModel.id.does_not_exist())
    except TransactWriteError as error:
        codes = [r.code if r else None for r in error.cancellation_reasons]
        if codes and codes[0] == "ConditionalCheckFailed":
            existing = UniqueKeyModel.get(_url_key(repo.repoUrl), consistent_read=True)
            raise Conflict(
                f"repository {repo.repoUrl} is already registered", existingId=existing.ref
            ) from None
        raise
    return repo


def get(repo_id: str) -> RepoModel:
    try:
        return RepoModel.get(repo_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound(f"repo {repo_id} not found") from None


def find_by_url(repo_url: str) -> RepoModel | None:
    try:
        claim = UniqueKeyModel.get(_url_key(repo_url), consistent_read=True)
    except DoesNotExist:
        return None
    return get(claim.ref)


def list_repos(limit: int, cursor: str | None) -> Page[RepoModel]:
    # Repositories are few and listed by people, not on a hot path: a paged scan is enough.
    scan = RepoModel.scan(limit=limit, last_evaluated_key=decode_cursor(cursor))
    items = list(scan)
    last_key = scan.last_evaluated_key
    return Page(items=items, next_cursor=encode_cursor(last_key) if last_key else None)


def update(repo: RepoModel, changes: Mapping[str, Any], now: datetime) -> RepoModel:
    """Settings change in place; the condition keeps a concurrently deleted repo deleted."""
    fields = {**changes, "updatedAt": iso(now)}
    actions = [
        getattr(RepoModel, name).remove() if value is None else getattr(RepoModel, name).set(value)
        for name, value in fields.items()
    ]
    try:
        repo.update(actions=actions, condition=RepoModel.id.exists())
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise NotFound(f"repo {repo.id} not found") from None
        raise
    return repo


def delete(repo: RepoModel) -> None:
    """The repo and its URL claim go together, so the URL can be registered again."""
    with TransactWrite(connection=connection()) as txn:
        txn.delete(repo)
        txn.delete(UniqueKeyModel(_url_key(repo.repoUrl)), condition=UniqueKeyModel.ref == repo.id)
