// A stand-in for the national e-ID (VNeID, a Keycloak realm): the Node `oidc-provider` (OpenID Certified,
// the version bench/node uses) configured with the VNeID profile's claims and levels, which MotID logs in
// against as a relying party in tests/accounts/upstream.
//
//   node op.mjs CONFIG.json
//
// CONFIG.json: {"port": P, "issuer": "http://127.0.0.1:P",
//               "client": {"client_id", "client_secret", "redirect_uris": [...], "token_endpoint_auth_method"},
//               "accounts": {"ID": {"SoDinhDanh": ..., "HoVaTen": ..., ...}}}
//
// RS256 only; claims SoDinhDanh, HoVaTen, NgayThangNamSinh, GioiTinh, preferred_username, MaSoThue in the
// ID token and at UserInfo (scope `profile`); `acr` "1" or "2"; devInteractions off; RP-initiated logout on
// (end_session_endpoint). There is no login page: the tests complete a login over HTTP with
//
//   GET /interaction/UID/login?account=ID&acr=2     (with the browser's cookies; answers 303 to the resume)
//
// and steer the provider through /__admin/ (tests only):
//
//   POST /__admin/accounts  {"ID": {claims}}      add or replace accounts
//   POST /__admin/rotate?publish=0|1              sign with a new RSA key from now on (kid changes); with
//                                                 publish=0 the JWKS keeps showing the previous keys
//   POST /__admin/jwks?mode=forged|normal         forged: the JWKS shows another key under the same kid
//   POST /__admin/reset                           the JWKS shows the signing key again
//   POST /__admin/clients  {client metadata}      register one more client (e.g. private_key_jwt with jwks)
//   POST /__admin/logout-token  {claims}          a back-channel logout token with exactly these claims,
//                                                 signed with the current key (typ logout+jwt)
//
// Back-channel logout is on as well: a client with `backchannel_logout_uri` is told when its session
// here ends (the provider posts to that URI, loopback included: this is a test server), and its ID
// tokens carry `sid` (`backchannel_logout_session_required`).
// (a browser asking for /interaction/UID with Accept: text/html gets a page with a form doing just that)
// and a person refusing at the upstream with GET /interaction/UID/abort (the RP gets error=access_denied).
//
// Prints one JSON line {"ready": true} on stdout once it listens.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

import { SignJWT, importJWK } from 'jose';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const extraClients = [];
const accounts = { ...config.accounts };
const VNEID_CLAIMS = ['SoDinhDanh', 'HoVaTen', 'NgayThangNamSinh', 'GioiTinh', 'preferred_username', 'MaSoThue'];

function newKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

function publicPart({ kty, n, e, kid, alg, use }) {
  return { kty, n, e, kid, alg, use };
}

async function loadExistingGrant(ctx) {
  // Consent is the national service's business: every login grants what was asked.
  const grant = new ctx.oidc.provider.Grant({
    clientId: ctx.oidc.client.clientId,
    accountId: ctx.oidc.session.accountId,
  });
  grant.addOIDCScope('openid profile');
  grant.addOIDCClaims(VNEID_CLAIMS);
  await grant.save();
  return grant;
}

function build(signingKey) {
  const provider = new Provider(config.issuer, {
    clients: [config.client, ...extraClients].map((client) => ({
      id_token_signed_response_alg: 'RS256', require_auth_time: true, default_acr_values: ['1', '2'], ...client,
    })),
    jwks: { keys: [signingKey] },
    cookies: { keys: ['motid-test-upstream-cookie-key'] },
    claims: { openid: ['sub'], profile: VNEID_CLAIMS },
    conformIdTokenClaims: false, // Keycloak puts the profile's claims in the ID token as well
    acrValues: ['1', '2'],
    enabledJWA: { idTokenSigningAlgValues: ['RS256'] },
    features: {
      devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true }, backchannelLogout: { enabled: true },
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    loadExistingGrant,
    pkce: { required: () => true },
    ttl: { IdToken: 60, AccessToken: 600, AuthorizationCode: 60, Interaction: 600, Session: 3600, Grant: 3600 },
    async findAccount(ctx, id) {
      if (!accounts[id]) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...accounts[id] }) };
    },
  });
  provider.proxy = false;
  return provider;
}

let signing = newKey();
let provider = build(signing);
let published = [publicPart(signing)];
let jwksOverride = null;

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
}

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function admin(req, res, url) {
  if (url.pathname === '/__admin/accounts') {
    Object.assign(accounts, await readJson(req));
    return send(res, 200, { accounts: Object.keys(accounts) });
  }
  if (url.pathname === '/__admin/rotate') {
    signing = newKey();
    provider = build(signing);
    if (url.searchParams.get('publish') !== '0') published = [publicPart(signing)];
    return send(res, 200, { kid: signing.kid });
  }
  if (url.pathname === '/__admin/jwks') {
    jwksOverride = url.searchParams.get('mode') === 'forged'
      ? [{ ...publicPart(newKey()), kid: signing.kid }] : null;
    return send(res, 200, { mode: jwksOverride ? 'forged' : 'normal' });
  }
  if (url.pathname === '/__admin/clients') {
    extraClients.push(await readJson(req));
    provider = build(signing);
    return send(res, 200, { clients: extraClients.length + 1 });
  }
  if (url.pathname === '/__admin/logout-token') {
    const claims = await readJson(req);
    const key = await importJWK(signing, 'RS256');
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: signing.kid, typ: 'logout+jwt' }).sign(key);
    return send(res, 200, { logout_token: token });
  }
  if (url.pathname === '/__admin/reset') {
    jwksOverride = null;
    published = [publicPart(signing)];
    return send(res, 200, { kid: signing.kid });
  }
  return send(res, 404, { error: 'not_found' });
}

// A browser (tests/browser) gets a minimal login page: the personal account `hoa` at level 2, one button.
function loginPage(res, details) {
  const action = `/interaction/${encodeURIComponent(details.uid)}/login`;
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>VNeID (thử nghiệm)</title></head>
<body><h1>VNeID (thử nghiệm)</h1><form method="get" action="${action}">
<label>Tài khoản <input name="account" value="hoa"></label><input type="hidden" name="acr" value="2">
<button type="submit">Xác nhận đăng nhập</button></form></body></html>`);
}

async function abort(req, res) {
  await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'End-User aborted' },
    { mergeWithLastSubmission: false });
}

async function login(req, res, url) {
  const details = await provider.interactionDetails(req, res);
  const accountId = url.searchParams.get('account');
  if (details.prompt.name !== 'login' || !accounts[accountId]) return send(res, 400, { prompt: details.prompt });
  const acr = url.searchParams.get('acr') || '1';
  await provider.interactionFinished(req, res, { login: { accountId, acr, amr: ['pwd'] } },
    { mergeWithLastSubmission: false });
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, config.issuer);
  try {
    if (req.method === 'POST' && url.pathname.startsWith('/__admin/')) return await admin(req, res, url);
    if (url.pathname === '/jwks') return send(res, 200, { keys: jwksOverride || published });
    if (/^\/interaction\/[^/]+\/login$/.test(url.pathname)) return await login(req, res, url);
    if (/^\/interaction\/[^/]+\/abort$/.test(url.pathname)) return await abort(req, res);
    if (/^\/interaction\/[^/]+$/.test(url.pathname)) {
      const details = await provider.interactionDetails(req, res);
      if ((req.headers.accept || '').includes('text/html')) return loginPage(res, details);
      return send(res, 200, { uid: details.uid, prompt: details.prompt.name });
    }
    return provider.callback()(req, res);
  } catch (err) {
    return send(res, 500, { error: 'server_error', error_description: String(err && err.message) });
  }
});

server.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ ready: true, port: config.port })}\n`);
});
