"""Saved sessions: their names, the local store's signed links and expiry, and S3's presigned URLs."""
from __future__ import annotations

import os
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.stub import Stubber

from chalicelib.core.sessions import (
    LINK_TTL_S,
    archive_key,
    link_expiry,
    link_is_valid,
    link_signature,
    session_id_problem,
)
from chalicelib.store.sessions import DAY_S, LocalSessions, S3Sessions

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def test_session_ids_that_could_leave_their_directory_are_refused() -> None:
    assert session_id_problem("3f2b1c9e-4b7a-4f7e-9f0e-1a2b3c4d5e6f") is None
    assert session_id_problem("ses_01J9Z8Y7.X6") is None
    for bad in ("", "../x", "a/b", ".hidden", "a..b", "x" * 201, "a b"):
        problem = session_id_problem(bad)
        assert problem is not None and problem.field == "sessionId", bad


def test_a_local_link_holds_for_its_method_and_key_until_it_expires() -> None:
    key = archive_key("tasks", "t-1", "s-1")
    expires = link_expiry(NOW)
    assert expires == int(NOW.timestamp()) + LINK_TTL_S
    signature = link_signature("secret", "GET", key, expires)

    assert link_is_valid("secret", "GET", key, str(expires), signature, NOW)
    assert not link_is_valid("secret", "PUT", key, str(expires), signature, NOW)
    assert not link_is_valid("secret", "GET", archive_key("tasks", "t-2", "s-1"), str(expires), signature, NOW)
    assert not link_is_valid("other", "GET", key, str(expires), signature, NOW)
    assert not link_is_valid("secret", "GET", key, str(expires), signature, NOW + timedelta(seconds=LINK_TTL_S + 1))
    assert not link_is_valid("secret", "GET", key, "soon", signature, NOW)


def test_the_local_store_forgets_sessions_older_than_the_expiry(tmp_path: Path) -> None:
    store = LocalSessions(tmp_path, expiry_days=30)
    store.write(archive_key("tasks", "t-1", "old"), b"old")
    old = tmp_path / archive_key("tasks", "t-1", "old")
    stale = time.time() - 31 * DAY_S
    os.utime(old, (stale, stale))

    store.write(archive_key("workflow-runs", "r-1", "new"), b"new")

    assert not old.exists()
    assert store.read(archive_key("workflow-runs", "r-1", "new")) == b"new"
    assert store.exists(archive_key("workflow-runs", "r-1", "new"))
    assert store.read(archive_key("tasks", "t-1", "old")) is None
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["new.tar.gz"]  # no temporary file left


def s3_client() -> object:
    return boto3.session.Session(aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="secret",
                                 region_name="us-east-1").client(
        "s3", config=Config(signature_version="s3v4", s3={"addressing_style": "virtual"}))


def test_s3_links_are_presigned_for_one_key_and_one_method() -> None:
    store = S3Sessions("optio-dev-sessions", s3_client())

    url = urllib.parse.urlsplit(store.link("PUT", "tasks/t-1/s-1.tar.gz", 900))

    assert url.scheme == "https" and url.netloc == "optio-dev-sessions.s3.amazonaws.com"
    assert url.path == "/tasks/t-1/s-1.tar.gz"
    query = urllib.parse.parse_qs(url.query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and query["X-Amz-Expires"] == ["900"]
    assert query["X-Amz-Credential"][0].startswith("AKIAEXAMPLE/") and query["X-Amz-Signature"]
    assert store.link("GET", "tasks/t-1/s-1.tar.gz", 900) != store.link("PUT", "tasks/t-1/s-1.tar.gz", 900)


def test_s3_says_whether_a_session_was_saved() -> None:
    client = s3_client()
    store = S3Sessions("optio-dev-sessions", client)
    with Stubber(client) as stub:  # botocore's own stand-in for the S3 endpoint
        stub.add_response("head_object", {"ContentLength": 3},
                          {"Bucket": "optio-dev-sessions", "Key": "tasks/t-1/s-1.tar.gz"})
        stub.add_client_error("head_object", service_error_code="404", http_status_code=404)
        assert store.exists("tasks/t-1/s-1.tar.gz")
        assert not store.exists("tasks/t-1/s-2.tar.gz")
