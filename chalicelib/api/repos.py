"""`/api/repos`: register and read repositories."""
from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.core.roles import VIEWER
from chalicelib.core.schemas import REPO_CREATE, REPO_PATCH
from chalicelib.services.repos import delete_repo, register_repo, update_repo
from chalicelib.store import repos

from .http import JSON, body_of, created, paging, route
from .shapes import repo_json

bp = Blueprint(__name__)


@route(bp, "/api/repos", methods=["POST"], body=REPO_CREATE, status=201)
def create_repo() -> Response:
    return created(repo_json(register_repo(body_of(bp.current_request))))


@route(bp, "/api/repos", methods=["GET"], role=VIEWER, query=("limit", "cursor"))
def list_repos() -> dict[str, Any]:
    page = repos.list_repos(*paging(bp.current_request))
    return {"items": [repo_json(r) for r in page.items], "nextCursor": page.next_cursor}


@route(bp, "/api/repos/{repo_id}", methods=["GET"], role=VIEWER)
def get_repo(repo_id: str) -> dict[str, Any]:
    return repo_json(repos.get(repo_id))


@route(bp, "/api/repos/{repo_id}", methods=["PATCH"], body=REPO_PATCH)
def patch_repo(repo_id: str) -> dict[str, Any]:
    return repo_json(update_repo(repo_id, body_of(bp.current_request)))


@route(bp, "/api/repos/{repo_id}", methods=["DELETE"], status=204)
def remove_repo(repo_id: str) -> Response:
    delete_repo(repo_id)
    return Response(body="", status_code=204, headers=JSON)
