"""The low-level connection transactions need (models carry their own)."""
from __future__ import annotations

from functools import lru_cache

from pynamodb.connection import Connection

from .models import _Meta


@lru_cache(maxsize=1)
def connection() -> Connection:
    meta = _Meta
    return Connection(
        region=meta.region,
        host=meta.host,
        aws_access_key_id=getattr(meta, "aws_access_key_id", None),
        aws_secret_access_key=getattr(meta, "aws_secret_access_key", None),
    )
