"""People's sign-in on AWS (infra/optio_infra/sign_in.py, OptioStack._sign_in): a Cognito user pool
with its hosted UI and a public client (code flow with PKCE) whose callback is the API's, maybe
federated to a company's provider; the API function pointed at it, with no secret in its environment."""
from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from .conftest import CUSTOM_DOMAIN, INFRA, STAGES, Assembly, resources, shared_synth

sys.path.append(str(INFRA))
from optio_infra.sign_in import Federation, SignInConfig  # noqa: E402

pytestmark = [pytest.mark.xdist_group("infra"), pytest.mark.timeout(900)]

FEDERATED = {"stages": "dev", "availabilityZones": "us-east-1a,us-east-1b,us-east-1c",
             "identityProviderType": "OIDC", "identityProviderName": "Okta",
             "identityProviderIssuer": "https://example.okta.com", "identityProviderClientId": "0oa-optio",
             "identityProviderClientSecretName": "optio/okta-client-secret"}


@pytest.fixture(scope="session")
def federated(tmp_path_factory: pytest.TempPathFactory, assembly: Assembly) -> Assembly:
    """dev federated to a company's OpenID Connect provider (after `assembly`: its caches are warm)."""
    return shared_synth(tmp_path_factory, "cdk.out.federated", FEDERATED)


def one(template: dict[str, Any], kind: str) -> dict[str, Any]:
    [(_, resource)] = resources(template, kind).items()
    return resource


def api_environment(template: dict[str, Any]) -> dict[str, Any]:
    env: dict[str, Any] = template["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    return env


def oauth_settings(template: dict[str, Any]) -> str:
    """The SDK call that gives the client its OAuth settings, as the template has it (JSON text
    around the references it holds)."""
    return json.dumps(one(template, "Custom::AWS")["Properties"]["Create"])


@pytest.mark.parametrize("stage", STAGES)
def test_a_user_pool_with_a_public_pkce_client_calls_back_to_the_api(assembly: Assembly, stage: str) -> None:
    template = assembly.template(stage)
    [(pool_id, pool)] = resources(template, "AWS::Cognito::UserPool").items()
    assert pool["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    [(client_id, client)] = resources(template, "AWS::Cognito::UserPoolClient").items()
    assert client["Properties"]["GenerateSecret"] is False  # public: PKCE is its proof
    domain = one(template, "AWS::Cognito::UserPoolDomain")
    assert domain["Properties"]["UserPoolId"] == {"Ref": pool_id}

    settings = oauth_settings(template)
    for expected in ('\\"AllowedOAuthFlows\\":[\\"code\\"]', '\\"AllowedOAuthFlowsUserPoolClient\\":true',
                     '\\"AllowedOAuthScopes\\":[\\"openid\\",\\"email\\",\\"profile\\"]',
                     '\\"SupportedIdentityProviders\\":[\\"COGNITO\\"]', "/api/auth/callback"):
        assert expected in settings, settings
    # The stage URL: the RestApi's id, region and suffix around /api/auth/callback.
    assert '{"Ref": "RestAPI"}' in settings and ".execute-api." in settings
    assert f'{{"Ref": "{client_id}"}}' in settings

    env = api_environment(template)
    assert env["OPTIO_OIDC_CLIENT_ID"] == {"Ref": client_id}
    assert env["OPTIO_OIDC_ISSUER"] == {"Fn::Sub": ["https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}/${Pool}",
                                                    {"Pool": {"Ref": pool_id}}]}
    assert "OPTIO_OIDC_CLIENT_SECRET_NAME" not in env
    assert {"UserPoolId", "SignInUrl"} <= set(template["Outputs"])


def test_on_a_custom_domain_the_callback_is_the_domain(imported: Assembly) -> None:
    settings = oauth_settings(imported.template("prod"))
    assert f"https://{CUSTOM_DOMAIN['domainName']}/api/auth/callback" in settings
    assert "RestAPI" not in settings


def test_federated_to_a_company_provider(federated: Assembly) -> None:
    template = federated.template("dev")
    provider = one(template, "AWS::Cognito::UserPoolIdentityProvider")["Properties"]
    assert provider["ProviderType"] == "OIDC" and provider["ProviderName"] == "Okta"
    details = provider["ProviderDetails"]
    assert details["oidc_issuer"] == "https://example.okta.com" and details["client_id"] == "0oa-optio"
    # Resolved by CloudFormation at deploy: the template holds the secret's name, never its value.
    assert details["client_secret"] == "{{resolve:secretsmanager:optio/okta-client-secret:SecretString:::}}"
    assert provider["AttributeMapping"]["email"] == "email"
    assert '\\"SupportedIdentityProviders\\":[\\"Okta\\"]' in oauth_settings(template)
    # Its directory's emails find invited users, with or without `email_verified`.
    assert api_environment(template)["OPTIO_OIDC_EMAIL_PROVIDERS"] == "Okta"
    [(key, _)] = resources(template, "Custom::AWS").items()
    assert "IdentityProvider" in "".join(template["Resources"][key].get("DependsOn", []))


def test_the_context_says_which_provider() -> None:
    assert SignInConfig.from_context(lambda _: None) == SignInConfig()
    other = SignInConfig.from_context({"signInIssuer": "https://login.example.com", "signInClientId": "optio"}.get)
    assert not other.cognito and other.client_id == "optio"
    saml = SignInConfig.from_context({"identityProviderType": "saml",
                                      "identityProviderMetadataUrl": "https://idp.example.com/metadata"}.get)
    assert saml.federation == Federation("SAML", "Company", metadata_url="https://idp.example.com/metadata")
    for context, problem in (({"signInIssuer": "https://login.example.com"}, "go together"),
                             ({"identityProviderType": "LDAP"}, "SAML or OIDC"),
                             ({"identityProviderType": "SAML"}, "identityProviderMetadataUrl"),
                             ({"identityProviderType": "OIDC", "identityProviderIssuer": "https://x"},
                              "identityProviderClientId, identityProviderClientSecretName"),
                             ({"identityProviderType": "SAML", "signInIssuer": "https://x", "signInClientId": "c"},
                              "pick one")):
        with pytest.raises(ValueError, match=problem):
            SignInConfig.from_context(context.get)
