// A real OpenID Connect provider on loopback: the certified `oidc-provider` (installed by the
// Makefile into .deps/oidc), with its development sign-in pages. Any login is accepted; a login
// that looks like an email address is also the account's verified email. A login
// `<Provider>:<email>` is a user federated into a Cognito user pool, as Cognito's ID token gives
// one signed in through the company's SAML provider: the email with no `email_verified`, and the
// provider named in `identities`.
//
//   OIDC_PORT=9000 OIDC_REDIRECT_URI=http://127.0.0.1:8000/api/auth/callback \
//     OIDC_CLIENT_SECRET=... node tests/fakes/oidc_server.mjs
//
// It prints "ready <issuer>" once it listens. The client `optio` must use the authorization code
// flow with PKCE (S256); it authenticates with client_secret_basic.
const { default: Provider } = await import(
  new URL('../../.deps/oidc/node_modules/oidc-provider/lib/index.js', import.meta.url));

const port = Number(process.env.OIDC_PORT || 9000);
const issuer = `http://127.0.0.1:${port}`;

const configuration = {
  clients: [{
    client_id: process.env.OIDC_CLIENT_ID || 'optio',
    client_secret: process.env.OIDC_CLIENT_SECRET || 'optio-local-client-secret',
    redirect_uris: [process.env.OIDC_REDIRECT_URI || 'http://127.0.0.1:8000/api/auth/callback'],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  // Every client, confidential or not, proves the code is its own.
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  // The email and name go into the ID token too, as most providers (Cognito, Entra ID, Google) do.
  conformIdTokenClaims: false,
  claims: { openid: ['sub', 'identities'], email: ['email', 'email_verified'], profile: ['name'] },
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        const federated = /^([A-Za-z][\w-]*):(.+@.+)$/.exec(id);
        if (federated) {
          const [, providerName, email] = federated;
          return {
            sub: id, name: email.split('@')[0], email,
            identities: [{ userId: email, providerName, providerType: 'SAML', issuer: null,
                           primary: 'true', dateCreated: '1764633600000' }],
          };
        }
        const email = id.includes('@') ? { email: id, email_verified: true } : {};
        return { sub: id, name: id.split('@')[0], ...email };
      },
    };
  },
  cookies: { keys: ['a-local-only-cookie-signing-key'] },
};

const provider = new Provider(issuer, configuration);
provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
