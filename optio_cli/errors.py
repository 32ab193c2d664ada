"""Exit codes scripts can rely on, and the one error type that carries them."""
from __future__ import annotations

import click

OK = 0
USAGE = 1  # a wrong command line, or a request the API refused as invalid (400, 405, 413)
NOT_FOUND = 2
CONFLICT = 3  # the task (or run, name, trigger) is in a state that does not allow it: 409
AUTH = 4  # no token, or the API refused it (401, 403)
UNAVAILABLE = 5  # the deployment could not be reached, or failed (5xx, 429)


class CliError(Exception):
    """Shown as `Error: <message>` on stderr by `main.app`; the process exits with `exit_code`."""

    def __init__(self, message: str, exit_code: int = USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

    def show(self) -> None:
        click.echo(f"Error: {self.message}", err=True)


def exit_code_for_status(status: int) -> int:
    if status in (401, 403):
        return AUTH
    if status == 404:
        return NOT_FOUND
    if status == 409:
        return CONFLICT
    if status == 429 or status >= 500:
        return UNAVAILABLE
    return USAGE
