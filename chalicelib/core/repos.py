"""Repository URLs: one normal form, so the same repository is never registered twice."""
from __future__ import annotations

import os
import re
from urllib.parse import urlsplit


class BadRepoUrl(ValueError):
    pass


_SCP_LIKE = re.compile(r"^(?:[\w.-]+@)?(?P<host>[\w.-]+):(?P<path>[^/].*)$")


def normalise_repo_url(raw: str, allow_local: bool) -> str:
    """https, lowercase, no `.git`, no trailing slash; local paths as absolute file:// URLs."""
    url = raw.strip()
    if not url:
        raise BadRepoUrl("must not be empty")
    if url.startswith("file://") or url.startswith("/"):
        if not allow_local:
            raise BadRepoUrl("local repositories are only allowed in local mode")
        path = url[len("file://"):] if url.startswith("file://") else url
        return "file://" + os.path.normpath(path)
    scp = _SCP_LIKE.match(url)
    if scp and "://" not in url:
        url = f"https://{scp.group('host')}/{scp.group('path')}"
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http", "ssh", "git") or not parts.hostname:
        raise BadRepoUrl("must be an https URL of a git repository (or a local path in local mode)")
    path = parts.path.rstrip("/")
    if path.endswith(".git"):
        path = path[: -len(".git")]
    if path.count("/") < 2:
        raise BadRepoUrl("must name an owner and a repository, like https://github.com/acme/webapp")
    return f"https://{parts.hostname.lower()}{path.lower()}"


def is_local(url: str) -> bool:
    return url.startswith("file://")


def local_path(url: str) -> str:
    return url[len("file://"):]
