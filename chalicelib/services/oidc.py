"""Sign-in through an OpenID Connect provider: the authorization code flow with PKCE, a state and a
nonce; the ID token is verified against the issuer's published keys (PyJWT).

Between the redirect to the provider and its return, the flow's state, nonce and PKCE verifier
live in a short-lived cookie of the browser that started it (`api.oidc`): nothing is stored, and
a callback that was not started by that browser matches no cookie.
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from chalicelib.exceptions import Conflict, OptioError, Unauthorized
from chalicelib.settings import settings
from chalicelib.store import secrets as stored_secrets

if TYPE_CHECKING:
    from jwt import PyJWKClient

HTTP_TIMEOUT_S = 10
# Asymmetric only: an HMAC-signed ID token would be signed with the client secret, which this
# side holds too; "none" is no signature.
SIGNING_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
                                "ES512", "EdDSA"})
CLOCK_SKEW_S = 60


class ProviderUnreachable(OptioError):
    """The identity provider did not answer: not our bug, and nothing the browser can fix."""

    status = 502


@dataclass(frozen=True)
class Identity:
    """What the provider vouched for: `<issuer> <subject>` is who it is, for good."""

    identity: str
    email: str | None
    name: str | None


def configured() -> bool:
    return bool(settings.oidc_issuer and settings.oidc_client_id)


def _get_json(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    """The provider's JSON answer; an HTTP error status is the caller's to judge, no answer at all
    (or not JSON) is a 502."""
    request = urllib.request.Request(url, data=data, headers={"Accept": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:  # noqa: S310 - the configured issuer
            return json.loads(response.read())
    except urllib.error.HTTPError:
        raise
    except (OSError, ValueError) as error:
        raise ProviderUnreachable(f"the identity provider did not answer at {url}: {error}") from None


@lru_cache(maxsize=1)
def _discovery(issuer: str) -> dict[str, Any]:
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        document = _get_json(url)
    except urllib.error.HTTPError as error:
        raise ProviderUnreachable(f"the identity provider answered {error.code} at {url}") from None
    # OpenID Connect Discovery §4.3: the document must be the issuer's own.
    if not isinstance(document, dict) or document.get("issuer") != issuer:
        raise ProviderUnreachable(f"{url} is not the discovery document of the issuer {issuer} (OPTIO_OIDC_ISSUER)")
    return document


@lru_cache(maxsize=1)
def _keys(jwks_uri: str) -> PyJWKClient:
    # Imported at the first sign-in, not at every cold start of the API.
    from jwt import PyJWKClient

    return PyJWKClient(jwks_uri, cache_keys=True, timeout=HTTP_TIMEOUT_S)


def _provider() -> tuple[str, str, dict[str, Any]]:
    if not (settings.oidc_issuer and settings.oidc_client_id):
        raise Conflict("sign-in through an identity provider is not configured (OPTIO_OIDC_ISSUER, "
                       "OPTIO_OIDC_CLIENT_ID): sign in with a token")
    return settings.oidc_issuer, settings.oidc_client_id, _discovery(settings.oidc_issuer)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def start(redirect_uri: str) -> tuple[str, str]:
    """The provider's authorization URL to send the browser to, and the flow's cookie value."""
    _, client_id, provider = _provider()
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
        "scope": "openid email profile", "state": state, "nonce": nonce,
        "code_challenge": _b64(hashlib.sha256(verifier.encode()).digest()), "code_challenge_method": "S256",
    })
    endpoint = provider["authorization_endpoint"]
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", f"{state}.{nonce}.{verifier}"


def finish(params: dict[str, str], flow: str | None, redirect_uri: str) -> Identity:
    """The callback: the state matches the cookie's, the code is exchanged with the verifier, the
    ID token is the provider's, for this client, fresh, and carries the cookie's nonce."""
    issuer, client_id, provider = _provider()
    if params.get("error"):
        raise Unauthorized(f"the identity provider refused the sign-in: {params['error']}")
    parts = (flow or "").split(".")
    if len(parts) != 3 or not params.get("state") or not secrets.compare_digest(parts[0], params["state"]):
        raise Unauthorized("this sign-in was not started here, or took too long: sign in again")
    _, nonce, verifier = parts
    if not params.get("code"):
        raise Unauthorized("the identity provider returned no code")
    form = {"grant_type": "authorization_code", "code": params["code"], "redirect_uri": redirect_uri,
            "code_verifier": verifier}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    client_secret = stored_secrets.value_of(settings.oidc_client_secret_name)
    if client_secret:
        # client_secret_basic (RFC 6749 §2.3.1): both parts form-encoded first.
        pair = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(client_secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    else:
        form["client_id"] = client_id  # a public client: PKCE is its proof
    try:
        tokens = _get_json(provider["token_endpoint"], urllib.parse.urlencode(form).encode(), headers)
    except urllib.error.HTTPError as error:
        raise Unauthorized(f"the identity provider refused the code ({error.code})") from None
    if not isinstance(tokens, dict) or not isinstance(tokens.get("id_token"), str):
        raise Unauthorized("the identity provider returned no ID token")
    claims = _verified(tokens["id_token"], issuer, client_id, provider)
    if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
        raise Unauthorized("the ID token is not for this sign-in (nonce)")
    return Identity(f"{issuer} {claims['sub']}", _verified_email(claims), claims.get("name"))


def _verified_email(claims: dict[str, Any]) -> str | None:
    """The email an invited user is found by, when the provider vouches for it: `email_verified`
    (some providers, older Cognito pools among them, send it as a string), or, from a Cognito pool,
    a user federated through one of the providers `OPTIO_OIDC_EMAIL_PROVIDERS` names: Cognito sends
    no `email_verified` for a SAML user, and the company's directory is what vouches there."""
    email = claims.get("email")
    if not isinstance(email, str) or not email:
        return None
    if claims.get("email_verified") in (True, "true"):
        return email
    identities = claims.get("identities")
    if isinstance(identities, list) and any(
            isinstance(i, dict) and i.get("providerName") in settings.oidc_email_providers for i in identities):
        return email
    return None


def _verified(id_token: str, issuer: str, client_id: str, provider: dict[str, Any]) -> dict[str, Any]:
    import jwt

    algorithms = sorted(SIGNING_ALGORITHMS & set(provider.get("id_token_signing_alg_values_supported", ["RS256"])))
    try:
        key = _keys(provider["jwks_uri"]).get_signing_key_from_jwt(id_token)
        claims: dict[str, Any] = jwt.decode(
            id_token, key, algorithms=algorithms, audience=client_id, issuer=issuer, leeway=CLOCK_SKEW_S,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]})
    except jwt.PyJWTError as error:
        raise Unauthorized(f"the ID token does not verify: {error}") from None
    # OpenID Connect Core §3.1.3.7: with several audiences, the authorized party must be us.
    if claims.get("azp", client_id) != client_id:
        raise Unauthorized("the ID token was issued to another client")
    return claims
