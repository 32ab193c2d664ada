"""What every command shares: the chosen profile, resolved into a client on first use (so
`optio login` and `optio --help` work before any profile exists)."""
from __future__ import annotations

import click

from .client import Client
from .config import Config, Target, require_token, resolve


class State:
    def __init__(self, profile: str | None) -> None:
        self.profile = profile
        self._client: Client | None = None

    def target(self) -> Target:
        return resolve(Config.load(), self.profile)

    @property
    def client(self) -> Client:
        if self._client is None:
            target = self.target()
            self._client = Client(target.url, require_token(target))
        return self._client


pass_state = click.make_pass_decorator(State)
