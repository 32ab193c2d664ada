"""How people sign in to a deployment (README "People"), from the deploy's context:

  (nothing)                       an Amazon Cognito user pool of the stack's own, with its hosted UI;
  identityProviderType=SAML       ... federated to the company's SAML provider:
    identityProviderMetadataUrl     its metadata document;
  identityProviderType=OIDC       ... federated to the company's OpenID Connect provider:
    identityProviderIssuer, identityProviderClientId,
    identityProviderClientSecretName  the Secrets Manager secret holding the client secret there
                                      (CloudFormation resolves it: the template never holds it);
  identityProviderName            the provider's name on the hosted UI (default "Company");
  signInIssuer, signInClientId    no pool: another OpenID Connect provider (Entra ID, Okta, Google...);
                                  its client secret, if any, is stored in Optio as OIDC_CLIENT_SECRET.

(`oidcIssuer` is the imported EKS cluster's, hence `signIn*` for people's provider.)
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FEDERATION_TYPES = ("SAML", "OIDC")
DEFAULT_PROVIDER_NAME = "Company"


@dataclass(frozen=True)
class Federation:
    kind: str  # SAML or OIDC
    name: str
    metadata_url: str = ""
    issuer: str = ""
    client_id: str = ""
    client_secret_name: str = ""


@dataclass(frozen=True)
class SignInConfig:
    """`issuer` and `client_id` set: another provider, no pool; else a Cognito pool, maybe federated."""

    issuer: str = ""
    client_id: str = ""
    federation: Federation | None = None

    @property
    def cognito(self) -> bool:
        return not self.issuer

    @classmethod
    def from_context(cls, ctx: Callable[[str], Any]) -> SignInConfig:
        def get(key: str) -> str:
            return str(ctx(key) or "").strip()

        issuer, client_id = get("signInIssuer"), get("signInClientId")
        kind = get("identityProviderType").upper()
        if bool(issuer) != bool(client_id):
            raise ValueError("signInIssuer and signInClientId go together: the provider and Optio's client there")
        if issuer and kind:
            raise ValueError("identityProviderType federates the Cognito pool; signInIssuer replaces it: pick one")
        if not kind:
            return cls(issuer, client_id)
        if kind not in FEDERATION_TYPES:
            raise ValueError(f"identityProviderType is SAML or OIDC, not {kind!r}")
        name = get("identityProviderName") or DEFAULT_PROVIDER_NAME
        if kind == "SAML":
            if not get("identityProviderMetadataUrl"):
                raise ValueError("identityProviderType=SAML needs identityProviderMetadataUrl")
            return cls(federation=Federation(kind, name, metadata_url=get("identityProviderMetadataUrl")))
        needed = ("identityProviderIssuer", "identityProviderClientId", "identityProviderClientSecretName")
        missing = [key for key in needed if not get(key)]
        if missing:
            raise ValueError(f"identityProviderType=OIDC needs {', '.join(missing)}")
        return cls(federation=Federation(kind, name, issuer=get("identityProviderIssuer"),
                                         client_id=get("identityProviderClientId"),
                                         client_secret_name=get("identityProviderClientSecretName")))
