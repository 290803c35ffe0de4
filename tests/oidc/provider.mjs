// The OpenID provider the sign-in tests start on loopback: npm's oidc-provider (a certified
// implementation) with its development login form, where the login typed is the account.
//
//   node tests/oidc/provider.mjs CONFIG.json
//
// CONFIG: { "clients": [{ client_id, client_secret, redirect_uris, post_logout_redirect_uris }],
//           "accounts": { LOGIN: { email, email_verified, given_name, family_name } } }
// Prints `listening on http://127.0.0.1:PORT` once it serves.
//
// For the tests of what metroplan refuses, POST /test/tamper {"mode": M} makes the next token
// response carry a doctored ID token: "audience" (another client's), "expired", "signature"
// (signed with a key the provider does not publish), "issuer" (another issuer's) or "replay"
// (the ID token of the previous sign-in, with that sign-in's nonce).

import { readFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:net';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));

const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const jwk = { ...key.export({ format: 'jwk' }), kid: 'metroplan-test', alg: 'RS256', use: 'sig' };
// Not published: what it signs must fail the signature check.
const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

let tamper = null;
let previousIdToken = null;

function start(port) {
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: config.clients.map((c) => ({
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      ...c,
    })),
    jwks: { keys: [jwk] },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['given_name', 'family_name'],
    },
    // The claims in the ID token itself, as ProConnect and FranceConnect send them.
    conformIdTokenClaims: false,
    cookies: { keys: ['metroplan-test-cookie-key'] },
    async findAccount(ctx, id) {
      const a = config.accounts[id];
      if (!a) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...a }) };
    },
    // First-party clients: no consent screen, the grant is given at sign-in.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
  });

  provider.use(async (ctx, next) => {
    if (ctx.path === '/test/tamper' && ctx.method === 'POST') {
      let raw = '';
      for await (const chunk of ctx.req) raw += chunk;
      tamper = JSON.parse(raw).mode;
      ctx.status = 204;
      return;
    }
    await next();
    if (ctx.path === '/token' && ctx.status === 200 && ctx.body?.id_token) {
      const genuine = ctx.body.id_token;
      if (tamper) {
        ctx.body.id_token = await doctor(genuine, tamper, issuer);
        tamper = null;
      }
      previousIdToken = genuine;
    }
  });

  const server = provider.listen(port, '127.0.0.1', () => {
    console.log(`listening on ${issuer}`);
  });
  server.on('error', (e) => {
    console.error(e.message);
    process.exit(1);
  });
}

async function doctor(genuine, mode, issuer) {
  if (mode === 'replay') {
    if (!previousIdToken) throw new Error('no earlier ID token to replay');
    return previousIdToken;
  }
  const claims = jose.decodeJwt(genuine);
  const now = Math.floor(Date.now() / 1000);
  let signer = key;
  if (mode === 'audience') claims.aud = 'another-client';
  else if (mode === 'expired') {
    claims.iat = now - 7200;
    claims.exp = now - 3600;
  } else if (mode === 'issuer') claims.iss = `${issuer}/elsewhere`;
  else if (mode === 'signature') signer = stranger;
  else throw new Error(`unknown tamper mode ${mode}`);
  return new jose.SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: jwk.kid, typ: 'JWT' })
    .sign(signer);
}

// The issuer carries the port, so the port is chosen first: a free one from the system.
const probe = createServer();
probe.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  const { port } = probe.address();
  probe.close(() => start(port));
});
