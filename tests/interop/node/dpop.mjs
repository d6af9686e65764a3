// DPoP (RFC 9449) with openid-client v6 against a live MotID, driven by tests/interop/test_openid_client_dpop.py.
//
// Input (JSON on standard input), after the authorization step of rp.mjs ("start"):
//   {"issuer", "client_id", "redirect_uri", "callback_url", "code_verifier", "state", "nonce"}  (a public client)
// -> the code exchanged with a DPoP proof (a fresh ES256 key, client.getDPoPHandle), UserInfo with the DPoP
//    scheme, a refresh with the same key, then what happens with another key and as a Bearer token.
// Output: one JSON object, {"ok": true, ...} or {"ok": false, "error": {...}} with exit code 1.
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
  // A WWWAuthenticateChallengeError carries the response (and the parsed challenges as its cause).
  const response = error?.response instanceof Response ? error.response
    : error?.cause instanceof Response ? error.cause : undefined
  if (response) out.www_authenticate = response.headers.get('www-authenticate')
  return out
}

async function expectFailure(operation) {
  try {
    await operation()
    return { failed: false }
  } catch (error) {
    return { failed: true, ...describeError(error) }
  }
}

function payloadOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'))
}

async function run(input) {
  const config = await client.discovery(new URL(input.issuer), input.client_id, {
    redirect_uris: [input.redirect_uri], response_types: ['code'],
  }, client.None(), { execute: [client.allowInsecureRequests], timeout: TIMEOUT_MS / 1000 })
  config.timeout = TIMEOUT_MS / 1000
  const keyPair = await client.randomDPoPKeyPair('ES256')
  const DPoP = client.getDPoPHandle(config, keyPair)
  const out = { public_jwk: await crypto.subtle.exportKey('jwk', keyPair.publicKey) }

  const tokens = await client.authorizationCodeGrant(config, new URL(input.callback_url), {
    pkceCodeVerifier: input.code_verifier, expectedState: input.state, expectedNonce: input.nonce,
    idTokenExpected: true,
  }, undefined, { DPoP })
  const sub = tokens.claims().sub
  out.token = { token_type: tokens.token_type, cnf: payloadOf(tokens.access_token).cnf }
  out.userinfo = { ...(await client.fetchUserInfo(config, tokens.access_token, sub, { DPoP })) }

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP })
  out.refresh = { token_type: refreshed.token_type, cnf: payloadOf(refreshed.access_token).cnf }
  out.userinfo_after_refresh = { ...(await client.fetchUserInfo(config, refreshed.access_token, sub, { DPoP })) }

  // Someone else's key, and no key at all (a Bearer token), get nothing.
  const thief = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'))
  out.refresh_with_another_key = await expectFailure(
    () => client.refreshTokenGrant(config, refreshed.refresh_token, undefined, { DPoP: thief }))
  out.userinfo_with_another_key = await expectFailure(
    () => client.fetchUserInfo(config, refreshed.access_token, sub, { DPoP: thief }))
  out.userinfo_as_bearer = await expectFailure(() => client.fetchUserInfo(config, refreshed.access_token, sub))
  return out
}

async function main() {
  const result = await run(await readStdin())
  process.stdout.write(JSON.stringify({ ok: true, ...result }) + '\n')
}

main().catch((error) => {
  process.stdout.write(JSON.stringify({ ok: false, error: describeError(error), stack: error?.stack }) + '\n')
  process.exitCode = 1
})
