// The Node `oidc-provider` (OpenID Certified) configured like the MotID instance of bench/oidc_bench.py,
// so both can be driven by the same wrk workload on the same machine.
//
//   node provider.mjs CONFIG.json
//
// CONFIG.json: {"port": P, "adminPort": A, "issuer": "http://127.0.0.1:P",
//               "client": {"client_id", "client_secret", "redirect_uri", "scope"},
//               "account": {"sub", "claims": {...}},
//               "storage": {"type": "memory"} | {"type": "postgresql", "url": "postgresql://...", "poolSize": N}}
//
// It serves the provider on 127.0.0.1:P and, on 127.0.0.1:A only, a small helper that mints what the
// workload needs through the provider's own models (POST /mint {"codes": N, "refresh": M, "access": K}):
// authorization codes (each on its own Grant, as one authorization request would make), refresh tokens
// (one Grant each, so every chain is its own family) and access tokens (opaque, stored, like the ones the
// code flow issues). Prints one JSON line {"ready": true, ...} on stdout once both listen.
// Storage is either an unbounded in-memory adapter (the default; the bundled MemoryAdapter is an LRU of
// 1,000 entries, too small for thousands of pre-minted codes), which lives as long as the process, or
// PostgreSQL through pg_adapter.mjs, in the database the URL names (the bench creates and drops it); the
// adapter creates its one table there.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

import { createPgStorage } from './pg_adapter.mjs';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const HOST = '127.0.0.1';

// ------------------------------------------------------------------ storage
const store = new Map(); // key -> { payload, expiresAt }
const grantMembers = new Map(); // grantId -> Set of keys
const uids = new Map(); // session uid -> id
const userCodes = new Map(); // user code -> id
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest', 'PreAuthorizedCode']);

class MemoryBenchAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
    store.set(key, { payload, expiresAt });
    if (GRANTABLE.has(this.model) && payload.grantId) {
      let members = grantMembers.get(payload.grantId);
      if (!members) {
        members = new Set();
        grantMembers.set(payload.grantId, members);
      }
      members.add(key);
    }
    if (this.model === 'Session' && payload.uid) uids.set(payload.uid, id);
    if (payload.userCode) userCodes.set(payload.userCode, id);
  }

  async find(id) {
    const key = this.key(id);
    const entry = store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return entry.payload;
  }

  async findByUid(uid) {
    const id = uids.get(uid);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = userCodes.get(userCode);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const entry = store.get(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    const key = this.key(id);
    const entry = store.get(key);
    store.delete(key);
    if (entry?.payload.grantId) grantMembers.get(entry.payload.grantId)?.delete(key);
  }

  async revokeByGrantId(grantId) {
    for (const key of grantMembers.get(grantId) ?? []) store.delete(key);
    grantMembers.delete(grantId);
  }
}

const storageConfig = config.storage ?? { type: 'memory' };
let pgStorage = null;
if (storageConfig.type === 'postgresql') {
  pgStorage = await createPgStorage({ connectionString: storageConfig.url, poolSize: storageConfig.poolSize ?? 10 });
} else if (storageConfig.type !== 'memory') {
  throw new Error(`unknown storage type ${storageConfig.type}`);
}

// ------------------------------------------------------------------ keys: one per algorithm, as MotID publishes
function signingKey(type, options, alg, kid) {
  const jwk = generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' });
  return { ...jwk, alg, use: 'sig', kid };
}
const jwks = {
  keys: [
    signingKey('ec', { namedCurve: 'P-256' }, 'ES256', 'bench-es256'),
    signingKey('rsa', { modulusLength: 2048 }, 'RS256', 'bench-rs256'),
    signingKey('ed25519', {}, 'EdDSA', 'bench-eddsa'),
  ],
};

// ------------------------------------------------------------------ the provider
const { client: benchClient, account } = config;
const accountClaims = { ...account.claims, sub: account.sub };

const provider = new Provider(config.issuer, {
  adapter: pgStorage ? pgStorage.Adapter : MemoryBenchAdapter,
  clients: [{
    client_id: benchClient.client_id,
    client_secret: benchClient.client_secret,
    client_name: 'OIDC bench',
    redirect_uris: [benchClient.redirect_uri],
    response_types: ['code'],
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'ES256', // MotID's default for clients an administrator creates
    scope: benchClient.scope,
  }],
  jwks,
  cookies: { keys: ['oidc-bench-cookie-key-not-a-secret'] },
  scopes: ['openid', 'offline_access', 'profile', 'email'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'family_name', 'given_name', 'middle_name', 'birthdate', 'gender', 'locale', 'updated_at'],
    email: ['email', 'email_verified'],
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    userinfo: { enabled: true },
  },
  async findAccount(ctx, sub) {
    if (sub !== account.sub) return undefined;
    return { accountId: sub, async claims() { return accountClaims; } };
  },
  rotateRefreshToken: true, // MotID rotates on every use
  ttl: {
    AccessToken: 900,
    AuthorizationCode: 3600, // minted before the run; MotID's bench raises IDP_CODE_SECONDS likewise
    ClientCredentials: 900,
    IdToken: 900,
    RefreshToken: 30 * 86400,
    Grant: 30 * 86400,
  },
  enabledJWA: { idTokenSigningAlgValues: ['ES256', 'RS256', 'EdDSA'] },
});
provider.proxy = false;
provider.on('server_error', (ctx, err) => console.error('server_error', err));

// ------------------------------------------------------------------ minting through the models
const SCOPE = benchClient.scope;
const authTime = Math.floor(Date.now() / 1000);

async function newGrant() {
  const grant = new provider.Grant({ accountId: account.sub, clientId: benchClient.client_id });
  grant.addOIDCScope(SCOPE);
  return grant.save();
}

// `count` results of `make(i)`, in order, at most `parallel` at a time (with PostgreSQL each is two INSERTs)
async function many(count, make, parallel = 8) {
  const out = new Array(count);
  let next = 0;
  async function lane() {
    while (next < count) {
      const i = next;
      next += 1;
      out[i] = await make(i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, lane));
  return out;
}

async function mint({ codes = 0, refresh = 0, access = 0 }) {
  const client = await provider.Client.find(benchClient.client_id);
  const common = { accountId: account.sub, client, scope: SCOPE, acr: 'urn:motid:loa:1', amr: ['pwd'], authTime };
  return {
    codes: await many(codes, async (i) => new provider.AuthorizationCode({
      ...common, grantId: await newGrant(), redirectUri: benchClient.redirect_uri, nonce: `n-${i}`,
    }).save()),
    refresh: await many(refresh, async () => new provider.RefreshToken({
      ...common, grantId: await newGrant(), gty: 'authorization_code', rotations: 0,
    }).save()),
    access: await many(access, async () => new provider.AccessToken({
      accountId: account.sub, client, grantId: await newGrant(), gty: 'authorization_code', scope: SCOPE,
    }).save()),
  };
}

const MAX_MINT = 200000;
const admin = http.createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => {
    body += chunk;
    if (body.length > 4096) req.destroy();
  });
  req.on('end', async () => {
    try {
      if (req.method !== 'POST' || req.url !== '/mint') throw new Error(`no ${req.method} ${req.url}`);
      const wanted = JSON.parse(body || '{}');
      for (const name of ['codes', 'refresh', 'access']) {
        if (!Number.isInteger(wanted[name] ?? 0) || (wanted[name] ?? 0) < 0 || (wanted[name] ?? 0) > MAX_MINT) {
          throw new Error(`${name} must be a whole number from 0 to ${MAX_MINT}`);
        }
      }
      const out = await mint(wanted);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(out));
    } catch (err) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: String(err?.message || err) }));
    }
  });
});

const server = provider.listen(config.port, HOST, () => {
  admin.listen(config.adminPort, HOST, () => {
    console.log(JSON.stringify({
      ready: true, node: process.version, port: config.port, adminPort: config.adminPort,
      oidcProvider: config.oidcProviderVersion ?? null, storage: storageConfig.type,
    }));
  });
});

function stop() {
  server.close();
  admin.close();
  server.closeAllConnections?.();
  admin.closeAllConnections?.();
  (pgStorage ? pgStorage.close() : Promise.resolve())
    .catch((err) => console.error('closing the pool failed', err))
    .finally(() => setTimeout(() => process.exit(0), 200).unref());
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
