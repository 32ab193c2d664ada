"""Repositories behind the API: register, and resolve the repo a new task names."""
from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from typing import Any

from chalicelib.core.connections import listed
from chalicelib.core.repos import BadRepoUrl, is_local, local_path, normalise_repo_url
from chalicelib.core.schemas import AGENT_ALIASES, REPO_CREATE, REPO_DEFAULTS, REPO_PATCH
from chalicelib.core.states import LIFECYCLES, ExecutionKind
from chalicelib.engine.clock import utcnow
from chalicelib.exceptions import Conflict, FieldProblem, NotFound, ValidationFailed
from chalicelib.settings import settings
from chalicelib.store import executions, repos
from chalicelib.store.models import RepoModel

from .connections import check_connections
from .secrets import check_agent_secrets
from .validation import check_network, require_valid


def _normalised(raw: str, field: str) -> str:
    try:
        url = normalise_repo_url(raw, allow_local=settings.launcher == "local")
    except BadRepoUrl as error:
        raise ValidationFailed(f"invalid {field}", [FieldProblem(field, str(error))]) from None
    if is_local(url) and not os.path.isdir(local_path(url)):
        raise ValidationFailed(
            f"invalid {field}", [FieldProblem(field, "no git repository at this path")]
        )
    return url


def _name_of(url: str) -> str:
    if is_local(url):
        return os.path.basename(local_path(url)).removesuffix(".git")
    return "/".join(url.split("/")[-2:])


def register_repo(body: Any) -> RepoModel:
    given = require_valid(REPO_CREATE, body)
    url = _normalised(given["repoUrl"], "repoUrl")
    check_agent_secrets((given.get("environment") or {}).get("secrets") or [], "environment.secrets")
    check_connections(listed(given.get("environment")), "environment.connections")
    check_network(given.get("environment"))
    fields: dict[str, Any] = {**REPO_DEFAULTS, **given, "repoUrl": url}
    fields["defaultAgentType"] = AGENT_ALIASES.get(fields["defaultAgentType"], fields["defaultAgentType"])
    fields.update(id=str(uuid.uuid4()), name=_name_of(url))
    return repos.create(fields, utcnow())


def resolve_repo(given: Mapping[str, Any]) -> RepoModel:
    """A task names its repo by id, or by URL; an unknown URL is registered with the defaults,
    so `POST /api/tasks` with just a `repoUrl` works as the seeds show it."""
    if given.get("repoId"):
        try:
            return repos.get(given["repoId"])
        except NotFound:
            raise ValidationFailed(
                "unknown repoId", [FieldProblem("repoId", "no repository with this id")]
            ) from None
    if not given.get("repoUrl"):
        raise ValidationFailed(
            "a task needs a repository", [FieldProblem("repoId", "give repoId or repoUrl")]
        )
    url = _normalised(given["repoUrl"], "repoUrl")
    existing = repos.find_by_url(url)
    if existing is not None:
        return existing
    fields = {**REPO_DEFAULTS, "repoUrl": url, "id": str(uuid.uuid4()), "name": _name_of(url)}
    try:
        return repos.create(fields, utcnow())
    except Conflict:
        # Somebody registered it in the meantime: use theirs.
        found = repos.find_by_url(url)
        if found is None:
            raise
        return found


def update_repo(repo_id: str, body: Any) -> RepoModel:
    given = require_valid(REPO_PATCH, body)
    check_agent_secrets((given.get("environment") or {}).get("secrets") or [], "environment.secrets")
    check_connections(listed(given.get("environment")), "environment.connections")
    check_network(given.get("environment"))
    if "defaultAgentType" in given:
        given["defaultAgentType"] = AGENT_ALIASES.get(given["defaultAgentType"], given["defaultAgentType"])
    return repos.update(repos.get(repo_id), given, utcnow())


def delete_repo(repo_id: str) -> None:
    repo = repos.get(repo_id)
    busy = executions.in_repo(repo.id, [state.value for state in LIFECYCLES[ExecutionKind.REPO_TASK].slot_states])
    if busy:
        raise Conflict(f"{len(busy)} task(s) of this repository are running; cancel them first",
                       taskIds=[t.id for t in busy])
    repos.delete(repo)
