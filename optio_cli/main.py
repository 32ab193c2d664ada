"""The `optio` command: the root group, sign-in, profiles and shell completion; the resource
commands live in tasks.py and resources.py."""
from __future__ import annotations

import sys
from typing import Any

import click
from click.shell_completion import get_completion_class

from . import errors, resources, tasks
from .browser import sign_in
from .client import Client
from .config import DEFAULT_PROFILE, DEFAULT_URL, Config, Profile
from .context import State
from .errors import AUTH, NOT_FOUND, UNAVAILABLE, CliError
from .output import json_option, print_json, table

COMPLETE_VAR = "_OPTIO_COMPLETE"
EPILOG = """\b
Exit codes: 0 ok, 1 usage (or a request the API refused as invalid), 2 not found,
3 conflict (the state does not allow it), 4 auth: not signed in, or the role does not allow it
(401, 403), 5 server unreachable or failing.
\b
Environment: OPTIO_PROFILE picks a profile; OPTIO_URL and OPTIO_TOKEN override its URL and token.
Profiles live in ~/.config/optio/config.json ($XDG_CONFIG_HOME/optio), readable by you only."""


@click.group(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--profile", "-p", metavar="NAME", help="Use this profile (default: the current one).")
@click.version_option(package_name="optio-serverless", prog_name="optio")
@click.pass_context
def cli(ctx: click.Context, profile: str | None) -> None:
    """Optio from the command line: tasks, runs, blueprints, triggers, templates, repositories,
    secrets and issues of an Optio deployment."""
    ctx.obj = State(profile)


@cli.command()
@click.option("--url", envvar="OPTIO_URL",
              help=f"The deployment's URL (default: OPTIO_URL, else the profile's, else {DEFAULT_URL}).")
@click.option("--profile", "-p", "profile_name", metavar="NAME", help="Save as this profile.")
@click.option("--browser", is_flag=True, help="Sign in through the deployment's identity provider in a browser.")
@click.option("--no-open", is_flag=True, help="With --browser: print the sign-in URL, open no browser.")
@click.pass_obj
def login(state: State, url: str | None, profile_name: str | None, browser: bool, no_open: bool) -> None:
    """Sign in with a token (the admin token or an API key `optio_pat_...`), or with --browser.

    The token is read from stdin when stdin is not a terminal (`optio login < token-file`),
    else asked for without echo; it is never an argument. It is checked against the API, then
    saved in the profile (the file is readable by you only). The first profile saved becomes
    the current one; `optio profiles use NAME` switches.

    --browser signs in as yourself through the identity provider (OpenID Connect), as the
    dashboard does: the profile keeps the sign-in's session (12 hours), acting with your role.
    """
    config = Config.load()
    name = profile_name or state.profile or config.current or DEFAULT_PROFILE
    existing = config.get(name)
    base = (url or (existing.url if existing else DEFAULT_URL)).rstrip("/")
    if browser:
        if not Client(base, None).get("/api/setup/status").get("identityProvider"):
            raise CliError(f"{base} has no identity provider to sign in with: sign in with a token", errors.USAGE)
        token = sign_in(base, open_browser=not no_open)
        method = "browser"
    else:
        if no_open:
            raise CliError("--no-open goes with --browser", errors.USAGE)
        if sys.stdin.isatty():
            token = click.prompt(f"Token for {base}", hide_input=True, err=True)
        else:
            token = sys.stdin.read()
        token = token.strip()
        if not token:
            raise CliError("no token given", errors.USAGE)
        method = "token"
    who = verify(base, token)
    config.put(Profile(name, base, {"method": method, "token": token}))
    config.save()
    click.echo(f"Signed in to {base} as {who} (profile {name!r})", err=True)


def verify(url: str, token: str) -> str:
    """Is it Optio, and does it take this token? Who it speaks for, with its role (an
    authenticated read any principal may do)."""
    try:
        health = Client(url, None).get("/api/health")
    except CliError as error:
        if error.exit_code == NOT_FOUND:
            raise CliError(f"{url} does not look like Optio (no /api/health)", UNAVAILABLE) from error
        raise
    if not isinstance(health, dict) or "healthy" not in health:
        raise CliError(f"{url} does not look like Optio", UNAVAILABLE)
    try:
        me = Client(url, token).get("/api/auth/me")
    except CliError as error:
        if error.exit_code == AUTH:
            raise CliError(f"{url} refused the token", AUTH) from error
        raise
    user = me.get("user") or {}
    return f"{user.get('email') or me['principal']} ({me['role']})"


@cli.command()
@click.option("--profile", "-p", "profile_name", metavar="NAME", help="Forget this profile.")
@click.pass_obj
def logout(state: State, profile_name: str | None) -> None:
    """Forget a profile and its token."""
    config = Config.load()
    name = profile_name or state.profile or config.current or DEFAULT_PROFILE
    if config.get(name) is None:
        raise CliError(f"no profile {name!r}", NOT_FOUND)
    config.remove(name)
    config.save()
    click.echo(f"Signed out: profile {name!r} removed", err=True)


@cli.group()
def profiles() -> None:
    """Profiles: one per deployment."""


@profiles.command("list")
@json_option
def profiles_list(as_json: bool) -> None:
    """The profiles, the current one marked (tokens are never shown)."""
    config = Config.load()
    rows: list[dict[str, Any]] = [
        {"name": p.name, "url": p.url, "auth": p.auth.get("method"), "current": p.name == config.current}
        for p in config.profiles()
    ]
    if as_json:
        print_json(rows)
    else:
        table(rows, ["name", "url", "auth", "current"], empty="no profiles: run `optio login`")


@profiles.command("use")
@click.argument("name")
def profiles_use(name: str) -> None:
    """Make NAME the current profile."""
    config = Config.load()
    if config.get(name) is None:
        raise CliError(f"no profile {name!r}", NOT_FOUND)
    config.use(name)
    config.save()


@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script.

    \b
    bash: eval "$(optio completion bash)"     (in ~/.bashrc)
    zsh:  eval "$(optio completion zsh)"      (in ~/.zshrc)
    fish: optio completion fish > ~/.config/fish/completions/optio.fish
    """
    completion_class = get_completion_class(shell)
    assert completion_class is not None  # click ships all three
    click.echo(completion_class(cli, {}, "optio", COMPLETE_VAR).source())


for group in (tasks.tasks, resources.runs, resources.blueprints, resources.triggers, resources.templates,
              resources.repos, resources.secrets, resources.issues):
    cli.add_command(group)


def app() -> None:
    """The console script. Click's own usage errors exit 2, which here means "not found": they
    are mapped to 1, and every other error carries its exit code."""
    try:
        code = cli.main(prog_name="optio", complete_var=COMPLETE_VAR, standalone_mode=False)
    except click.UsageError as error:
        error.show()
        sys.exit(errors.USAGE)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except CliError as error:
        error.show()
        sys.exit(error.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else errors.OK)
