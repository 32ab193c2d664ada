"""Repository URLs: one normal form, so the same repository is never registered twice."""
from __future__ import annotations

import os
import re
from urllib.parse import urlsplit


class BadRepoUrl(ValueError):
    pass


_SCP_LIKE = re.compile(r"^(?:[\w.-]+@)?(?P<host>[\w.-]+):(?P<path>[^/].*)$")
_HOST = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$")
# Owner, group and repository names on GitHub, GitLab and Bitbucket: letters, digits and ._-~.
_SEGMENT = re.compile(r"^[A-Za-z0-9_.~-]+$")


def normalise_repo_url(raw: str, allow_local: bool) -> str:
    """https, lowercase, no `.git`, no trailing slash; local paths as absolute file:// URLs."""
    url = raw.strip()
    if not url:
        raise BadRepoUrl("must not be empty")
    if "::" in url:
        # `ext::sh -c ...` would have git run a command: transport helpers are never a repository.
        raise BadRepoUrl("git transport helpers (<transport>::<address>) are not allowed")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise BadRepoUrl("must not contain spaces or control characters")
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
    host = parts.hostname.lower()
    if not _HOST.match(host):
        raise BadRepoUrl("must name a valid host")
    path = parts.path.rstrip("/")
    if path.endswith(".git"):
        path = path[: -len(".git")]
    if path.count("/") < 2:
        raise BadRepoUrl("must name an owner and a repository, like https://github.com/acme/webapp")
    if parts.query or parts.fragment or any(
        not _SEGMENT.match(segment) or segment in (".", "..") for segment in path.split("/")[1:]
    ):
        raise BadRepoUrl("must be a plain repository URL: names of letters, digits and . _ - ~, no query")
    return f"https://{host}{path.lower()}"


def is_local(url: str) -> bool:
    return url.startswith("file://")


def local_path(url: str) -> str:
    return url[len("file://"):]
