"""The only code that writes the repos table."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.core.timefmt import iso
from chalicelib.exceptions import Conflict, NotFound

from . import claims, rows
from .models import RepoModel, UniqueKeyModel
from .pages import Page, decode_cursor, page_of


def _url_key(repo_url: str) -> str:
    return f"repo-url#{repo_url}"


def create(fields: Mapping[str, Any], now: datetime) -> RepoModel:
    """The URL is claimed in the same transaction, so two racing registrations make one repo."""
    repo = RepoModel(**fields)
    repo.createdAt = repo.updatedAt = iso(now)
    key = _url_key(repo.repoUrl)

    def taken() -> Exception:
        return Conflict(f"repository {repo.repoUrl} is already registered", existingId=claims.holder(key))

    claims.save_claimed(repo, [(key, taken)], f"repository {repo.repoUrl} is being registered concurrently")
    return repo


def get(repo_id: str) -> RepoModel:
    return rows.get(RepoModel, repo_id, "repo")


def find_by_url(repo_url: str) -> RepoModel | None:
    claim = rows.find(UniqueKeyModel, _url_key(repo_url))
    if claim is None:
        return None
    return get(claim.ref)


def list_repos(limit: int, cursor: str | None) -> Page[RepoModel]:
    # Repositories are few and listed by people, not on a hot path: a paged scan is enough.
    return page_of(RepoModel.scan(limit=limit, last_evaluated_key=decode_cursor(cursor)))


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
    claims.delete_claimed(repo, [_url_key(repo.repoUrl)])
