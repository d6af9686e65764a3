// Pushed authorization requests (RFC 9126) with openid-client v6, driven by tests/interop/test_par.py.
//
// Input (JSON on standard input): {"issuer", "client_id", "auth": "private_key_jwt" | "none", "private_jwk"?,
// "redirect_uri", "scope"}. openid-client discovers the server, pushes the request (PKCE S256, state,
// nonce) to its pushed_authorization_request_endpoint with the client's authentication, and builds the
// authorization URL from the request_uri it got. Output (JSON on standard output):
// {"ok": true, "authorization_url", "code_verifier", "state", "nonce", "server"}; the code is then
// redeemed by rp.mjs's "finish" step, which does not care how the authorization URL was made.
import * as client from 'openid-client'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'))

async function authentication() {
  if (input.auth === 'none') return client.None()
  const { kty, crv } = input.private_jwk
  const algorithm = kty === 'EC' ? { name: 'ECDSA', namedCurve: crv } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
  const key = await crypto.subtle.importKey('jwk', input.private_jwk, algorithm, false, ['sign'])
  return client.PrivateKeyJwt({ key, kid: input.private_jwk.kid })
}

try {
  const config = await client.discovery(new URL(input.issuer), input.client_id,
    { redirect_uris: [input.redirect_uri], response_types: ['code'] }, await authentication(),
    { execute: [client.allowInsecureRequests], timeout: 10 })  // http on loopback: the test server
  const codeVerifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  const url = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: input.redirect_uri, scope: input.scope, state, nonce, code_challenge_method: 'S256',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
  })
  process.stdout.write(JSON.stringify({ ok: true, authorization_url: url.href, code_verifier: codeVerifier, state,
                                        nonce, server: config.serverMetadata() }) + '\n')
} catch (error) {
  const cause = error?.cause instanceof Response ? { status: error.cause.status } : String(error?.cause ?? '')
  process.stdout.write(JSON.stringify({ ok: false, error: { name: error?.name, message: error?.message,
    code: error?.code, oauth_error: error?.error, error_description: error?.error_description, cause } }) + '\n')
  process.exitCode = 1
}
