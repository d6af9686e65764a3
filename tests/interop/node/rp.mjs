// A relying party built on openid-client v6 (a certified OpenID RP library, on oauth4webapi),
// driven step by step by tests/interop/test_openid_client.py against a live MotID server.
//
// Input: one JSON object on standard input. Output: one JSON object on standard output.
// Exit code 0 with {"ok": true, ...}; on any error exit code 1 with {"ok": false, "error": {...}}.
//
//   {"step": "start", "issuer", "client_id", "auth": "private_key_jwt" | "none", "private_jwk"?,
//    "redirect_uri", "scope"}
//     -> discovery, then an authorization URL with PKCE (S256), state and nonce:
//        {"authorization_url", "code_verifier", "state", "nonce", "server": {...discovered metadata}}
//
//   {"step": "finish", ...the same fields, "callback_url", "code_verifier", "state", "nonce"}
//     -> authorization code grant (checks iss per RFC 9207, state, the ID token's signature, iss, aud,
//        exp, nonce, at_hash), UserInfo, refresh, introspection, revocation of the refresh token,
//        and what each of them returned.
import * as client from 'openid-client'

const TIMEOUT_MS = 10_000

async function readStdin() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return JSON.parse(Buffer.concat(chunks).toString('utf8'))
}

function describeError(error) {
  const out = { name: error?.name, message: error?.message, code: error?.code }
  if (error?.error !== undefined) out.oauth_error = error.error
  if (error?.error_description !== undefined) out.error_description = error.error_description
  if (error?.status !== undefined) out.status = error.status
  if (error?.cause !== undefined) {
    const cause = error.cause
    if (cause instanceof Response) out.cause = { status: cause.status, headers: Object.fromEntries(cause.headers) }
    else if (cause instanceof Error) out.cause = { name: cause.name, message: cause.message, code: cause.code }
    else {
      try { out.cause = JSON.parse(JSON.stringify(cause)) } catch { out.cause = String(cause) }
    }
  }
  return out
}

// Run an operation that is expected to fail; return how it failed (or a marker that it did not).
async function expectFailure(operation) {
  try {
    const value = await operation()
    return { failed: false, value }
  } catch (error) {
    return { failed: true, ...describeError(error) }
  }
}

async function importPrivateKey(jwk) {
  const algorithms = {
    EC: { name: 'ECDSA', namedCurve: jwk.crv },
    RSA: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    OKP: { name: 'Ed25519' },
  }
  const key = await crypto.subtle.importKey('jwk', jwk, algorithms[jwk.kty], false, ['sign'])
  return { key, kid: jwk.kid }
}

async function configure(input) {
  let auth
  if (input.auth === 'private_key_jwt') auth = client.PrivateKeyJwt(await importPrivateKey(input.private_jwk))
  else if (input.auth === 'none') auth = client.None()
  else throw new Error(`unknown auth ${input.auth}`)
  const config = await client.discovery(new URL(input.issuer), input.client_id, {
    redirect_uris: [input.redirect_uri],
    response_types: ['code'],
  }, auth, {
    // The test server is http on loopback (MotID allows that for a loopback issuer only).
    execute: [client.allowInsecureRequests],
    timeout: TIMEOUT_MS / 1000,
  })
  config.timeout = TIMEOUT_MS / 1000
  return config
}

async function start(input) {
  const config = await configure(input)
  const codeVerifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: input.redirect_uri,
    scope: input.scope,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  })
  return { authorization_url: url.href, code_verifier: codeVerifier, state, nonce, server: config.serverMetadata() }
}

async function introspect(config, token, hint) {
  const result = await client.tokenIntrospection(config, token, { token_type_hint: hint })
  return { ...result }
}

async function finish(input) {
  const config = await configure(input)
  const out = {}

  const tokens = await client.authorizationCodeGrant(config, new URL(input.callback_url), {
    pkceCodeVerifier: input.code_verifier,
    expectedState: input.state,
    expectedNonce: input.nonce,
    idTokenExpected: true,
  })
  const claims = tokens.claims()
  out.token = {
    token_type: tokens.token_type,
    expires_in: tokens.expiresIn(),
    scope: tokens.scope,
    has_refresh_token: typeof tokens.refresh_token === 'string',
    id_token_header: JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url').toString('utf8')),
  }
  out.claims = { ...claims }

  out.userinfo = { ...(await client.fetchUserInfo(config, tokens.access_token, claims.sub)) }

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
  out.refresh = {
    new_access_token: refreshed.access_token !== tokens.access_token,
    new_refresh_token: typeof refreshed.refresh_token === 'string' && refreshed.refresh_token !== tokens.refresh_token,
    claims: refreshed.id_token ? { ...refreshed.claims() } : null,
  }
  out.userinfo_after_refresh = { ...(await client.fetchUserInfo(config, refreshed.access_token, claims.sub)) }

  const canIntrospect = (config.serverMetadata().introspection_endpoint_auth_methods_supported || [])
    .includes(input.auth)
  if (canIntrospect) {
    out.introspection_before = {
      access_token: await introspect(config, refreshed.access_token, 'access_token'),
      refresh_token: await introspect(config, refreshed.refresh_token, 'refresh_token'),
      rotated_refresh_token: await introspect(config, tokens.refresh_token, 'refresh_token'),
    }
  }

  // RFC 7009: revoking the refresh token ends its whole family (MotID revokes the grant).
  await client.tokenRevocation(config, refreshed.refresh_token, { token_type_hint: 'refresh_token' })
  out.revoked = true

  if (canIntrospect) {
    out.introspection_after = {
      access_token: await introspect(config, refreshed.access_token, 'access_token'),
      refresh_token: await introspect(config, refreshed.refresh_token, 'refresh_token'),
    }
  }
  out.refresh_after_revocation = await expectFailure(() => client.refreshTokenGrant(config, refreshed.refresh_token))
  out.userinfo_after_revocation = await expectFailure(
    () => client.fetchUserInfo(config, refreshed.access_token, claims.sub))
  return out
}

const STEPS = { start, finish }

async function main() {
  const input = await readStdin()
  const step = STEPS[input.step]
  if (!step) throw new Error(`unknown step ${input.step}`)
  const result = await step(input)
  process.stdout.write(JSON.stringify({ ok: true, ...result }) + '\n')
}

main().catch((error) => {
  process.stdout.write(JSON.stringify({ ok: false, error: describeError(error), stack: error?.stack }) + '\n')
  process.exitCode = 1
})
