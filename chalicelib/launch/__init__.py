"""Where agents run. `get_launcher()` picks the one `OPTIO_LAUNCHER` names."""
from __future__ import annotations

import os
from functools import lru_cache

from chalicelib.settings import settings

from .base import AgentLauncher, LaunchSpec

__all__ = ["AgentLauncher", "LaunchSpec", "get_launcher"]


@lru_cache(maxsize=1)
def get_launcher() -> AgentLauncher:
    if settings.launcher == "local":
        from .local import LocalLauncher

        return LocalLauncher(os.path.join(settings.data_dir, "work"), settings.runner_python)
    raise RuntimeError(f"unknown OPTIO_LAUNCHER {settings.launcher!r}: use 'local' or 'kubernetes'")
