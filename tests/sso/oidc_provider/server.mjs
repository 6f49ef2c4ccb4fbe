// A real OpenID Provider (panva/node-oidc-provider) for Mamori's SSO tests.
// Started on loopback by tests/sso/conftest.py. Configuration through the environment:
//   OP_PORT      port to listen on (127.0.0.1)
//   OP_ISSUER    issuer (default http://127.0.0.1:<port>)
//   OP_CLIENTS   JSON list of {client_id, client_secret, redirect_uris}
//   OP_MISBEHAVE "" | "aud" | "iss": re-sign ID tokens with a wrong audience / issuer;
//                "sig": sign them with a key that is not in the published JWKS
// Test-only endpoints: POST /_test/user {sub, email, email_verified, name} chooses who
// "signs in" at the next interaction (the interaction is completed without a form).
import http from 'node:http';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const port = Number(process.env.OP_PORT || 0);
const issuer = process.env.OP_ISSUER || `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.OP_CLIENTS || '[]');
const misbehave = process.env.OP_MISBEHAVE || '';

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const { privateKey: strangerKey } = await jose.generateKeyPair('RS256');
const privateJwk = { ...(await jose.exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };

let currentUser = { sub: 'alice-sub', email: 'alice@example.com', email_verified: true, name: 'Alice' };
const accounts = new Map();

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [privateJwk] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  features: { devInteractions: { enabled: false } },
  pkce: { required: () => true },
  async findAccount(ctx, id) {
    const user = accounts.get(id);
    if (!user) return undefined;
    return { accountId: id, async claims() { return { ...user }; } };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['mamori-test-cookie-key'] },
  ttl: { Session: 600, Interaction: 600, Grant: 600, AuthorizationCode: 60, AccessToken: 600, IdToken: 600 },
});
provider.proxy = false;

// Complete every interaction at once: log in as currentUser and grant the requested scopes.
provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([^/]+)$/);
  if (match) {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const user = { ...currentUser };
    accounts.set(user.sub, user);
    let result;
    if (details.prompt.name === 'login') {
      result = { login: { accountId: user.sub } };
    } else {
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
      if (details.prompt.details.missingOIDCScope) grant.addOIDCScope(details.prompt.details.missingOIDCScope.join(' '));
      if (details.prompt.details.missingOIDCClaims) grant.addOIDCClaims(details.prompt.details.missingOIDCClaims);
      result = { consent: { grantId: await grant.save() } };
    }
    await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    ctx.respond = false;
    return;
  }
  await next();
  if (misbehave && ctx.path === '/token' && ctx.status === 200 && ctx.body && ctx.body.id_token) {
    const claims = jose.decodeJwt(ctx.body.id_token);
    if (misbehave === 'aud') claims.aud = 'someone-else';
    if (misbehave === 'iss') claims.iss = 'https://evil.example';
    ctx.body = { ...ctx.body, id_token: await new jose.SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'test-key' }).sign(misbehave === 'sig' ? strangerKey : privateKey) };
  }
});

const callback = provider.callback();
const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/_test/user') {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      currentUser = JSON.parse(body);
      res.writeHead(204).end();
    });
    return;
  }
  callback(req, res);
});
server.listen(port, '127.0.0.1', () => {
  console.log(`READY ${server.address().port}`);
});
