"""Issue 20's "Done when", tried as a new user would: a fresh local mode with the local OpenID
Connect provider (the certified `oidc-provider`); the first administrator set up with the printed
setup token; sign-in through the provider; the administrator invites a member and a viewer; the
member signs in to the `optio` CLI with the browser, creates a task and follows it to the end with
the stand-in agent, while the viewer's CLI cannot cancel it (exit code 4: the API's 403)."""
from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import requests

from tests.cli.conftest import OPTIO, Cli, Result, clean_env
from tests.conftest import REPO_ROOT, free_port
from tests.e2e.test_readme import script
from tests.fakes.oidc_provider import oidc_provider, sign_in_at
from tests.support.api import Api
from tests.support.gitrepo import make_bare_repo
from tests.support.localmode import LocalMode, start_local_mode

pytestmark = pytest.mark.xdist_group("oidc")

CLIENT_ID = "optio"
CLIENT_SECRET = "walkthrough-client-secret-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def provider_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory, provider_port: int) -> Iterator[LocalMode]:
    assert OPTIO.exists(), f"{OPTIO} is missing: `make dev` (or `pip install -e .`) installs it"
    mode = start_local_mode(tmp_path_factory.mktemp("walkthrough"), OPTIO_OIDC_ISSUER=f"http://127.0.0.1:{provider_port}",
                            OPTIO_OIDC_CLIENT_ID=CLIENT_ID)
    yield mode
    mode.stop()


@pytest.fixture(scope="module")
def issuer(fresh: LocalMode, provider_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("walkthrough-provider") / "provider.log"
    with oidc_provider(provider_port, f"{fresh.url}/api/auth/callback", CLIENT_ID, CLIENT_SECRET, log) as url:
        # Whichever test runs first: Optio's client secret at the provider, stored with the admin
        # token (the walk-through's administrator stores it again with the CLI).
        assert fresh.api.request("PUT", "/api/secrets/OIDC_CLIENT_SECRET", json={"value": CLIENT_SECRET}
                                 ).status_code in (200, 201)
        yield url


def person(tmp_path: Path, name: str) -> Cli:
    """Someone at their own machine: the CLI with a home (and so profiles) of their own."""
    home = tmp_path / name
    home.mkdir()
    return Cli(home, clean_env(home))


def browser_login(cli: Cli, url: str, login: str) -> tuple[Result, requests.Response]:
    """`optio login --browser`, its browser played by a cookie-keeping HTTP client: the URL the CLI
    prints is opened, the provider's pages are posted as `login`, and the redirects followed, the
    last one to the CLI's loopback port."""
    process = cli.popen("login", "--browser", "--no-open", "--url", url)
    assert process.stderr is not None
    printed = process.stderr.readline()
    found = re.search(r"Sign in with your browser: (\S+)", printed)
    assert found, printed
    landed = sign_in_at(requests.Session(), found.group(1), login)
    out, err = process.communicate(timeout=120)
    return Result(process.returncode, out, printed + err), landed


def profile(cli: Cli) -> dict[str, Any]:
    assert stat.S_IMODE(cli.config.stat().st_mode) == 0o600
    return json.loads(cli.config.read_text())["profiles"]["default"]  # type: ignore[no-any-return]


def test_a_new_deployment_tried_as_a_new_user_would(fresh: LocalMode, issuer: str, tmp_path: Path) -> None:
    anonymous = Api(fresh.url, None)
    assert anonymous.ok("GET", "/api/setup/status") == {"setupNeeded": True, "identityProvider": True}

    # The first administrator, with the setup token local mode printed.
    printed = re.search(r"Setup token: (\S+)", fresh.output.read_text())
    assert printed
    ada_key = anonymous.ok("POST", "/api/setup/admin", {"setupToken": printed.group(1), "email": "ada@example.com",
                                                         "name": "Ada"}, status=201)["token"]
    # Ada signs in to the CLI with her key and stores Optio's client secret at the provider.
    ada = person(tmp_path, "ada")
    assert "as ada@example.com (admin)" in ada.ok("login", "--url", fresh.url, input=ada_key + "\n").err
    ada.ok("secrets", "set", "OIDC_CLIENT_SECRET", input=CLIENT_SECRET)

    # Ada signs in through the provider, and invites a member and a viewer from the dashboard's session.
    dashboard = requests.Session()
    landed = sign_in_at(dashboard, f"{fresh.url}/api/auth/login", "ada@example.com")
    assert landed.status_code == 200 and urlparse(landed.url).path == "/", landed.url
    assert dashboard.get(f"{fresh.url}/api/auth/me", timeout=30).json()["role"] == "admin"
    grace_user, lin_user = (
        dashboard.post(f"{fresh.url}/api/users", json={"email": email, "role": role}, timeout=30).json()
        for email, role in (("grace@example.com", "member"), ("lin@example.com", "viewer")))
    assert (grace_user["role"], lin_user["role"]) == ("member", "viewer")
    lin_key = dashboard.post(f"{fresh.url}/api/auth/api-keys", json={"userId": lin_user["id"]},
                             timeout=30).json()["token"]

    # Grace signs in to the CLI with her browser: the profile keeps her session, not a key of Ada's.
    grace = person(tmp_path, "grace")
    signed_in, page = browser_login(grace, fresh.url, "grace@example.com")
    assert signed_in.code == 0, signed_in.err
    assert "as grace@example.com (member)" in signed_in.err
    assert page.status_code == 200 and "you can close this tab" in page.text
    kept = profile(grace)
    assert kept["auth"]["method"] == "browser" and kept["auth"]["token"].startswith("optio_ses_")
    assert kept["auth"]["token"] not in signed_in.out + signed_in.err

    # Lin, a viewer, signs in with the key Ada made for her.
    lin = person(tmp_path, "lin")
    assert "(viewer)" in lin.ok("login", "--url", fresh.url, input=lin_key + "\n").err

    # Grace creates a task and follows it; meanwhile Lin cannot cancel it.
    repo = ada.ok("repos", "add", str(make_bare_repo(tmp_path)), "--json").json()
    task_id = grace.ok("tasks", "create", "--title", "Say hello", "--repo", repo["id"],
                       "--prompt", "Add a greeting [fake:file=HELLO.md] [fake:sleep=3]").out.strip()
    follow = grace.popen("tasks", "logs", task_id, "--follow")
    refused = lin("tasks", "cancel", task_id)
    assert refused.code == 4, (refused.code, refused.err)
    assert "this needs the member role" in refused.err and "has viewer" in refused.err
    out, err = follow.communicate(timeout=180)
    assert follow.returncode == 0, err
    assert "Done: the change is in place." in out and err.strip().splitlines()[-1].startswith("completed")

    # Who did what: the task is Grace's (her sign-in), and it is among her tasks, not Lin's.
    shown = lin.ok("tasks", "show", task_id, "--json").json()
    assert shown["state"] == "completed" and shown["createdBy"] == f"user:{grace_user['id']}"
    assert [t["id"] for t in grace.ok("tasks", "list", "--mine", "--json").json()] == [task_id]
    assert lin.ok("tasks", "list", "--mine", "--json").json() == []


def test_an_uninvited_person_gets_no_cli_session(fresh: LocalMode, issuer: str, tmp_path: Path) -> None:
    mallory = person(tmp_path, "mallory")
    refused, page = browser_login(mallory, fresh.url, "mallory@example.com")
    assert refused.code == 4 and "ask an administrator to invite you" in refused.err, refused.err
    assert page.status_code == 403
    assert not mallory.config.exists()


def test_the_cli_login_without_a_provider_says_so(local_mode: LocalMode, tmp_path: Path) -> None:
    refused = person(tmp_path, "alone")("login", "--browser", "--url", local_mode.url)
    assert refused.code == 1 and "no identity provider" in refused.err, refused.err


def test_the_readme_sign_in_example_runs_as_written(fresh: LocalMode, issuer: str, tmp_path: Path) -> None:
    """README "Command line": a member signs in with the browser (here `BROWSER` is a stand-in that
    signs in at the local provider), creates and follows a task, lists theirs; a viewer's cancel
    exits 4."""
    hopper = fresh.api.ok("POST", "/api/users", {"email": "hopper@example.com", "role": "member"}, status=201)
    viewer = fresh.api.ok("POST", "/api/users", {"email": "kay@example.com", "role": "viewer"}, status=201)
    viewer_key = fresh.api.ok("POST", "/api/auth/api-keys", {"userId": viewer["id"]}, status=201)["token"]
    repo = fresh.api.ok("POST", "/api/repos", {"repoUrl": str(make_bare_repo(tmp_path))}, status=201)
    home = tmp_path / "hopper"
    home.mkdir()
    env = {**clean_env(home), "PATH": f"{OPTIO.parent}:{clean_env(home)['PATH']}", "OPTIO": fresh.url,
           "REPO": repo["id"], "VIEWER_KEY": viewer_key, "OIDC_LOGIN": "hopper@example.com",
           "BROWSER": f"{sys.executable} -m tests.support.oidc_browser %s"}
    done = subprocess.run(["bash", "-c", "set -euo pipefail\n" + script("cli-people")], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Signed in to" in done.stderr and "as hopper@example.com (member)" in done.stderr
    assert "Done: the change is in place." in done.stdout
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == "cancel: exit 4" and "this needs the member role" in done.stderr
    assert f"user:{hopper['id']}" in lines  # the one task of theirs, created by their sign-in
