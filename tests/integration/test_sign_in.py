"""First-run setup and sign-in through OpenID Connect, end to end over HTTP: local mode started as
a user starts it, with a real provider on loopback (the certified `oidc-provider`, its development
sign-in pages), and a browser's part played by a cookie-keeping HTTP client that follows the
redirects and posts the provider's forms."""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from tests.conftest import free_port
from tests.fakes.oidc_provider import oidc_provider, sign_in_at
from tests.support.api import Api
from tests.support.localmode import LocalMode, start_local_mode
from tests.support.waiting import wait_for

pytestmark = pytest.mark.xdist_group("oidc")

CLIENT_ID = "optio"
CLIENT_SECRET = "test-oidc-client-secret-" + uuid.uuid4().hex
FIRST_ADMIN = "ada@example.com"
# The company's SAML provider, federated into a Cognito pool (the provider's `<name>:<email>` logins).
COMPANY_IDP = "CorpSAML"


@pytest.fixture(scope="module")
def provider_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, provider_port: int) -> Iterator[LocalMode]:
    mode = start_local_mode(tmp_path_factory.mktemp("oidc-stack"), OPTIO_OIDC_ISSUER=f"http://127.0.0.1:{provider_port}",
                            OPTIO_OIDC_CLIENT_ID=CLIENT_ID, OPTIO_OIDC_EMAIL_PROVIDERS=f"{COMPANY_IDP}, Other")
    yield mode
    mode.stop()


@pytest.fixture(scope="module")
def provider(stack: LocalMode, provider_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("oidc-provider") / "provider.log"
    with oidc_provider(provider_port, f"{stack.url}/api/auth/callback", CLIENT_ID, CLIENT_SECRET, log) as issuer:
        # Optio's client secret at the provider: a stored secret, as an administrator stores it.
        stack.api.ok("PUT", "/api/secrets/OIDC_CLIENT_SECRET", {"value": CLIENT_SECRET}, status=201)
        yield issuer


def setup_token(stack: LocalMode) -> str:
    def printed() -> str | None:
        found = re.search(r"Setup token: (\S+)", stack.output.read_text())
        return found.group(1) if found else None

    return wait_for(printed, timeout_s=60, interval_s=0.2, what="the setup token to be printed")


def sign_in(stack: LocalMode, login: str) -> tuple[requests.Session, requests.Response]:
    browser = requests.Session()
    return browser, sign_in_at(browser, f"{stack.url}/api/auth/login", login)


def test_setup_makes_the_first_admin_once(stack: LocalMode, provider: str) -> None:
    anonymous = Api(stack.url, None)
    assert anonymous.ok("GET", "/api/setup/status") == {"setupNeeded": True, "identityProvider": True}
    token = setup_token(stack)
    wrong = anonymous.post("/api/setup/admin", {"setupToken": "optio_setup_wrong", "email": FIRST_ADMIN})
    assert wrong.status_code == 401
    missing = anonymous.post("/api/setup/admin", {"setupToken": token})
    assert missing.status_code == 400 and missing.json()["details"][0]["field"] == "email"
    made = anonymous.ok("POST", "/api/setup/admin", {"setupToken": token, "email": FIRST_ADMIN, "name": "Ada"},
                        status=201)
    assert made["user"]["role"] == "admin" and made["user"]["createdBy"] == "setup"
    as_admin = Api(stack.url, made["token"])
    assert as_admin.ok("GET", "/api/auth/me")["user"]["email"] == FIRST_ADMIN
    again = anonymous.post("/api/setup/admin", {"setupToken": token, "email": "eve@example.com"})
    assert again.status_code == 409 and "setup is done" in again.json()["error"]
    assert anonymous.ok("GET", "/api/setup/status")["setupNeeded"] is False


def test_an_invited_user_signs_in_through_the_provider(stack: LocalMode, provider: str) -> None:
    email = f"grace-{uuid.uuid4().hex[:6]}@example.com"
    invited = stack.api.ok("POST", "/api/users", {"email": email, "role": "member"}, status=201)
    browser, landed = sign_in(stack, email)
    # Back on the dashboard, signed in.
    assert landed.status_code == 200 and urlparse(landed.url).path == "/", landed.url
    assert "optio_session" in browser.cookies
    me = browser.get(f"{stack.url}/api/auth/me", timeout=30).json()
    assert me == {"principal": f"user:{invited['id']}", "role": "member", "user": me["user"]}
    assert me["user"]["email"] == email and me["user"]["signedInBefore"] and me["user"]["name"] == email.split("@")[0]
    # The session acts as the user, with the user's role.
    assert browser.post(f"{stack.url}/api/repos", json={}, timeout=30).status_code == 403
    # Signing out ends the session itself, not only the cookie.
    session = browser.cookies["optio_session"]
    assert browser.post(f"{stack.url}/api/auth/logout", timeout=30).status_code == 204
    assert Api(stack.url, session).get("/api/auth/me").status_code == 401


def test_the_first_admin_signs_in_with_the_provider_too(stack: LocalMode, provider: str) -> None:
    browser, landed = sign_in(stack, FIRST_ADMIN)
    assert landed.status_code == 200
    assert browser.get(f"{stack.url}/api/auth/me", timeout=30).json()["role"] == "admin"


def test_a_user_federated_through_the_companys_provider_is_found_by_email(stack: LocalMode, provider: str) -> None:
    """Cognito sends no `email_verified` for a SAML user: the provider named in `identities` is one
    the deployment trusts for emails, and only such a provider's word finds the invited user."""
    email = f"linus-{uuid.uuid4().hex[:6]}@example.com"
    invited = stack.api.ok("POST", "/api/users", {"email": email, "role": "viewer"}, status=201)
    browser, refused = sign_in(stack, f"Untrusted:{email}")
    assert refused.status_code == 403 and "optio_session" not in browser.cookies
    browser, landed = sign_in(stack, f"{COMPANY_IDP}:{email}")
    assert landed.status_code == 200, landed.text
    me = browser.get(f"{stack.url}/api/auth/me", timeout=30).json()
    assert me["principal"] == f"user:{invited['id']}" and me["role"] == "viewer"


def test_nobody_uninvited_gets_in(stack: LocalMode, provider: str) -> None:
    browser, refused = sign_in(stack, "mallory@example.com")
    assert refused.status_code == 403 and "invite" in refused.json()["error"]
    assert "optio_session" not in browser.cookies


def test_a_callback_not_started_by_this_browser_is_refused(stack: LocalMode, provider: str) -> None:
    browser = requests.Session()
    # A login started elsewhere: its redirect carries a state this browser never had.
    started = requests.get(f"{stack.url}/api/auth/login", allow_redirects=False, timeout=30)
    state = parse_qs(urlparse(started.headers["Location"]).query)["state"][0]
    forged = browser.get(f"{stack.url}/api/auth/callback", params={"code": "stolen", "state": state}, timeout=30)
    assert forged.status_code == 401 and "sign in again" in forged.json()["error"]


def test_the_login_redirect_asks_for_a_code_with_pkce_state_and_nonce(stack: LocalMode, provider: str) -> None:
    started = requests.get(f"{stack.url}/api/auth/login", allow_redirects=False, timeout=30)
    assert started.status_code == 302
    location = urlparse(started.headers["Location"])
    asked = {name: values[0] for name, values in parse_qs(location.query).items()}
    assert f"{location.scheme}://{location.netloc}" == provider
    assert asked["response_type"] == "code" and asked["client_id"] == CLIENT_ID
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
    assert asked["state"] and asked["nonce"] and asked["redirect_uri"] == f"{stack.url}/api/auth/callback"
    assert "HttpOnly" in started.headers["Set-Cookie"] and "optio_oidc=" in started.headers["Set-Cookie"]


def test_no_provider_no_redirect(tmp_path: Path) -> None:
    """Local mode without a provider (the shared stack of the other tests has none): the admin
    token as ever, and a login that says what is missing."""
    from chalicelib.services import oidc

    assert not oidc.configured()
    from chalicelib.exceptions import Conflict

    with pytest.raises(Conflict, match="OPTIO_OIDC_ISSUER"):
        oidc.start("http://127.0.0.1/api/auth/callback")


def test_a_provider_that_is_down_or_not_the_issuer_is_a_502(provider: str) -> None:
    from chalicelib.services import oidc

    with pytest.raises(oidc.ProviderUnreachable, match="did not answer") as down:
        oidc._discovery(f"http://127.0.0.1:{free_port()}")
    assert down.value.status == 502
    # The provider's document names its issuer exactly: another spelling of it is another issuer.
    with pytest.raises(oidc.ProviderUnreachable, match="is not the discovery document"):
        oidc._discovery(provider + "/")
    assert oidc._discovery(provider)["issuer"] == provider


def test_a_command_line_sign_in_names_its_bad_parameters(stack: LocalMode, provider: str) -> None:
    """The port is all a caller picks of where the session goes (the host is always 127.0.0.1): a
    privileged or out-of-range port, or a state that could smuggle anything, is refused."""
    for cli, cli_state, fields in (("80", "a" * 32, ["cli"]), ("70000", "a" * 32, ["cli"]),
                                   ("8123@evil.example", "a" * 32, ["cli"]), ("8123", "short", ["cliState"]),
                                   ("8123", "a" * 20 + "&token=x", ["cliState"]), (None, "a" * 32, ["cli"])):
        refused = requests.get(f"{stack.url}/api/auth/login", params={"cli": cli, "cliState": cli_state},
                               allow_redirects=False, timeout=30)
        assert refused.status_code == 400, (cli, cli_state, refused.text)
        assert [d["field"] for d in refused.json()["details"]] == fields
