"""Roles over HTTP: every route the OpenAPI document lists refuses the roles below the one it
states; API keys belong to a user, carry at most its role, and expire; users are managed by
administrators only."""
from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from tests.support.api import Api
from tests.support.localmode import LocalMode

pytestmark = pytest.mark.xdist_group("stack")

ROLES = ("viewer", "member", "admin")


def user_with_key(api: Api, stack: LocalMode, role: str, **key: Any) -> tuple[dict[str, Any], Api]:
    user = api.ok("POST", "/api/users", {"email": f"{role}-{uuid.uuid4().hex[:8]}@example.com", "role": role},
                  status=201)
    made = api.ok("POST", "/api/auth/api-keys", {"name": f"{role} key", "userId": user["id"], **key}, status=201)
    return user, Api(stack.url, made["token"])


@pytest.fixture(scope="module")
def callers(api: Api, stack: LocalMode) -> dict[str, Api]:
    return {role: user_with_key(api, stack, role)[1] for role in ("viewer", "member")} | {"admin": api}


@pytest.fixture(scope="module")
def document(api: Api) -> dict[str, Any]:
    return api.ok("GET", "/api/openapi.json")  # type: ignore[no-any-return]


def test_every_route_states_its_role(document: dict[str, Any]) -> None:
    stated = {op["x-optio-role"] for ops in document["paths"].values() for op in ops.values()}
    assert stated == {"public", *ROLES}
    ops = document["paths"]
    assert ops["/api/secrets/{name}"]["put"]["x-optio-role"] == "admin"
    assert ops["/api/tasks"]["post"]["x-optio-role"] == "member"
    assert ops["/api/tasks"]["get"]["x-optio-role"] == "viewer"
    assert ops["/api/setup/admin"]["post"]["security"] == []


def test_each_route_refuses_the_roles_below_its_own(document: dict[str, Any], callers: dict[str, Api]) -> None:
    checked = 0
    for path, ops in document["paths"].items():
        concrete = re.sub(r"{\w+}", "no-such-id", path)
        for method, op in ops.items():
            needed = op["x-optio-role"]
            if needed == "public":
                continue
            for role in ROLES[: ROLES.index(needed)]:
                response = callers[role].request(method.upper(), concrete, json={})
                assert response.status_code == 403, (role, method, path, response.text)
                body = response.json()
                assert needed in body["error"] and body["role"] == needed, body
                checked += 1
            if method == "get":
                # Its own role passes the check (a read changes nothing, whatever the ids).
                response = callers[needed].get(concrete)
                assert response.status_code != 403, (needed, path, response.text)
    assert checked > 60


def test_a_keys_role_is_at_most_its_owners(api: Api, stack: LocalMode) -> None:
    member, as_member = user_with_key(api, stack, "member")
    too_high = as_member.post("/api/auth/api-keys", {"role": "admin"})
    assert too_high.status_code == 400
    assert too_high.json()["details"][0]["field"] == "role"
    mine = as_member.ok("POST", "/api/auth/api-keys", {"name": "read only", "role": "viewer",
                                                       "expiresInDays": 7}, status=201)
    assert mine["userId"] == member["id"] and mine["role"] == "viewer" and mine["expiresAt"]
    as_reader = Api(stack.url, mine["token"])
    me = as_reader.ok("GET", "/api/auth/me")
    assert (me["principal"], me["role"], me["user"]["id"]) == (f"apikey:{mine['id']}", "viewer", member["id"])
    assert as_reader.post("/api/tasks", {}).status_code == 403
    # Only an administrator makes keys for someone else.
    other = api.ok("POST", "/api/users", {"email": f"o-{uuid.uuid4().hex[:8]}@example.com", "role": "viewer"},
                   status=201)
    assert as_member.post("/api/auth/api-keys", {"userId": other["id"]}).status_code == 403


def test_a_member_sees_and_revokes_only_their_own_keys(api: Api, stack: LocalMode) -> None:
    _, first = user_with_key(api, stack, "member")
    _, second = user_with_key(api, stack, "member")
    theirs = first.ok("GET", "/api/auth/api-keys")["items"]
    assert len(theirs) == 1
    assert second.request("DELETE", f"/api/auth/api-keys/{theirs[0]['id']}").status_code == 404
    everyone = {key["id"] for key in api.ok("GET", "/api/auth/api-keys")["items"]}
    assert theirs[0]["id"] in everyone
    first.ok("DELETE", f"/api/auth/api-keys/{theirs[0]['id']}", status=204)
    assert first.get("/api/auth/me").status_code == 401


def test_a_lowered_or_disabled_user_takes_their_keys_down_with_them(api: Api, stack: LocalMode) -> None:
    user, as_user = user_with_key(api, stack, "member")
    assert as_user.post("/api/tasks/no-such-id/cancel").status_code == 404
    api.ok("PATCH", f"/api/users/{user['id']}", {"role": "viewer"})
    assert as_user.post("/api/tasks/no-such-id/cancel").status_code == 403
    assert as_user.ok("GET", "/api/auth/me")["role"] == "viewer"
    api.ok("PATCH", f"/api/users/{user['id']}", {"disabled": True})
    assert as_user.get("/api/auth/me").status_code == 401


def test_users_are_invited_by_unique_email_with_a_role(api: Api) -> None:
    email = f"Dana-{uuid.uuid4().hex[:8]}@Example.com"
    user = api.ok("POST", "/api/users", {"email": email, "name": "Dana", "role": "member"}, status=201)
    assert user["email"] == email.lower() and user["role"] == "member" and user["createdBy"] == "admin"
    assert not user["signedInBefore"] and not user["disabled"]
    assert api.post("/api/users", {"email": email.lower(), "role": "viewer"}).status_code == 409
    bad = api.post("/api/users", {"email": "not-an-address", "role": "owner"})
    assert bad.status_code == 400
    assert {d["field"] for d in bad.json()["details"]} == {"email", "role"}
    assert user["id"] in {u["id"] for u in api.ok("GET", "/api/users")["items"]}
    assert api.ok("PATCH", f"/api/users/{user['id']}", {"role": "admin"})["role"] == "admin"


def test_an_expired_key_or_session_is_refused() -> None:
    """In this process, against its own tables: a day cannot pass in a test, so the keys are made
    with their expiry a second ago (and, to show the clock is what refuses them, a second ahead)."""
    from datetime import timedelta

    from chalicelib.core.tokens import sha256_hex
    from chalicelib.engine.clock import utcnow
    from chalicelib.services import apikeys as keys
    from chalicelib.store import apikeys
    from chalicelib.store.tables import create_all

    create_all()

    def key_expiring_in(seconds: int, kind: str | None = None) -> str:
        token = (keys.SESSION_PREFIX if kind else "optio_pat_") + uuid.uuid4().hex
        apikeys.create(uuid.uuid4().hex, None, sha256_hex(token), token[:14], utcnow(), user_id=None, role="viewer",
                       expires_at=utcnow() + timedelta(seconds=seconds), kind=kind)
        return token

    assert keys.principal_of(key_expiring_in(60)) is not None
    expired_key = key_expiring_in(-1)
    assert keys.principal_of(expired_key) is None
    # An expired API key stays listed (its owner sees it expired); an expired session is gone.
    assert apikeys.find_by_hash(sha256_hex(expired_key)) is not None
    expired_session = key_expiring_in(-1, kind=keys.SESSION)
    assert keys.principal_of(expired_session) is None
    assert apikeys.find_by_hash(sha256_hex(expired_session)) is None
