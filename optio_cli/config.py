"""Profiles: one per deployment, in `$XDG_CONFIG_HOME/optio/config.json` (by default
`~/.config/optio/config.json`), readable by its owner only.

    {"current": "default",
     "profiles": {"default": {"url": "http://127.0.0.1:8000",
                              "auth": {"method": "token", "token": "optio_pat_..."}}}}

`auth.method` is `token` (a token given to `optio login`: the admin token or an API key) or
`browser` (`optio login --browser`: the session of a sign-in through the identity provider, which
acts as the person who signed in); either way the rest of the CLI only asks a profile for a bearer
token.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import AUTH, USAGE, CliError

DEFAULT_URL = "http://127.0.0.1:8000"  # `make dev`
DEFAULT_PROFILE = "default"


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "optio"


@dataclass(frozen=True)
class Profile:
    name: str
    url: str
    auth: dict[str, Any]

    def bearer_token(self) -> str | None:
        if self.auth.get("method") in ("token", "browser"):
            token = self.auth.get("token")
            return token if isinstance(token, str) and token else None
        return None


@dataclass(frozen=True)
class Target:
    """Where requests go and with what token, after profiles and environment overrides."""

    url: str
    token: str | None
    profile: str | None


class Config:
    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> Config:
        path = config_dir(env) / "config.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError) as error:
            raise CliError(f"cannot read {path}: {error}", USAGE) from error
        if not isinstance(data, dict):
            raise CliError(f"{path} is not a JSON object", USAGE)
        data.setdefault("profiles", {})
        return cls(path, data)

    @property
    def current(self) -> str | None:
        current = self.data.get("current")
        return current if isinstance(current, str) else None

    def profiles(self) -> list[Profile]:
        return [self._profile(name) for name in sorted(self.data["profiles"])]

    def get(self, name: str) -> Profile | None:
        return self._profile(name) if name in self.data["profiles"] else None

    def _profile(self, name: str) -> Profile:
        raw = self.data["profiles"][name]
        return Profile(name, str(raw.get("url") or DEFAULT_URL), dict(raw.get("auth") or {}))

    def put(self, profile: Profile) -> None:
        self.data["profiles"][profile.name] = {"url": profile.url, "auth": profile.auth}
        if self.current is None:
            self.data["current"] = profile.name

    def remove(self, name: str) -> None:
        del self.data["profiles"][name]
        if self.current == name:
            self.data.pop("current")

    def use(self, name: str) -> None:
        self.data["current"] = name

    def save(self) -> None:
        """Written whole to a file created 0600 and renamed over the old one: a token is never
        readable by others, not even for a moment, and a crash leaves the old file intact."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".config-", dir=self.path.parent)  # mkstemp creates 0600
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(self.data, out, indent=2, sort_keys=True)
                out.write("\n")
            os.replace(temp, self.path)
        except BaseException:
            os.unlink(temp)
            raise


def resolve(config: Config, profile_name: str | None, env: Mapping[str, str] | None = None) -> Target:
    """The profile named by `--profile`, else `OPTIO_PROFILE`, else the current one; `OPTIO_URL`
    and `OPTIO_TOKEN` override its parts. A profile's token is only ever sent to the profile's own
    URL: pointing `OPTIO_URL` elsewhere needs `OPTIO_TOKEN` too."""
    env = os.environ if env is None else env
    explicit = profile_name or env.get("OPTIO_PROFILE") or None
    name = explicit or config.current or DEFAULT_PROFILE
    profile = config.get(name)
    if explicit and profile is None:
        raise CliError(f"no profile {name!r}: sign in with `optio login --profile {name} --url URL`", USAGE)
    url = (env.get("OPTIO_URL") or (profile.url if profile else DEFAULT_URL)).rstrip("/")
    token = env.get("OPTIO_TOKEN") or None
    if token is None and profile is not None and profile.url.rstrip("/") == url:
        token = profile.bearer_token()
    return Target(url, token, profile.name if profile else None)


def require_token(target: Target) -> str:
    if target.token:
        return target.token
    raise CliError(f"not signed in to {target.url}: run `optio login` or set OPTIO_TOKEN", AUTH)
