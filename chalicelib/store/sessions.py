"""Where the agents' saved sessions live: an S3 bucket on AWS (the runner moves the bytes itself,
through presigned URLs), the data directory's `sessions/` locally (the API moves them).

Keys come from `core.sessions.archive_key`, whose parts are checked before they get here.
"""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from chalicelib.settings import settings

DAY_S = 86400


@dataclass(frozen=True)
class LocalSessions:
    root: Path
    expiry_days: int

    def exists(self, key: str) -> bool:
        return (self.root / key).is_file()

    def read(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        # Whole or not at all: a resume must never find half an archive.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
        self._expire()

    def _expire(self) -> None:
        """What S3's lifecycle rule does on AWS: sessions older than the expiry go."""
        cutoff = time.time() - self.expiry_days * DAY_S
        for archive in self.root.glob("*/*/*.tar.gz"):
            try:
                if archive.stat().st_mtime < cutoff:
                    archive.unlink()
            except FileNotFoundError:
                continue


@dataclass(frozen=True)
class S3Sessions:
    bucket: str
    client: Any  # a boto3 S3 client

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def link(self, method: str, key: str, ttl_s: int) -> str:
        """A presigned URL: whoever holds it may PUT or GET this one key until it expires, with
        the API's permissions (the bucket's default encryption applies to what is put)."""
        operation = "put_object" if method == "PUT" else "get_object"
        url: str = self.client.generate_presigned_url(
            operation, Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=ttl_s, HttpMethod=method)
        return url


@lru_cache(maxsize=1)
def session_store() -> LocalSessions | S3Sessions:
    if settings.sessions_bucket:
        import boto3
        from botocore.config import Config

        # SigV4 and the regional endpoint: what a presigned URL for an SSE-KMS object needs.
        client = boto3.client("s3", region_name=settings.region, config=Config(
            signature_version="s3v4", s3={"addressing_style": "virtual"}))
        return S3Sessions(settings.sessions_bucket, client)
    return LocalSessions(Path(settings.data_dir) / "sessions", settings.session_expiry_days)
