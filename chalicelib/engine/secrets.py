"""Server-side secrets the engine needs at run time."""
from __future__ import annotations

from chalicelib.settings import settings


def run_token_secret() -> str:
    if not settings.run_token_secret:
        raise RuntimeError("OPTIO_RUN_TOKEN_SECRET is not set; local mode generates one on start")
    return settings.run_token_secret
