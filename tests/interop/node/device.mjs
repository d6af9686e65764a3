// A kiosk built on openid-client v6 (a certified OpenID RP library, on oauth4webapi) running the Device
// Authorization Grant (RFC 8628) against a live MotID server, driven by tests/interop/test_device_interop.py.
//
// Input: one JSON object on standard input. Output: one JSON object on standard output.
// Exit code 0 with {"ok": true, ...}; on any error exit code 1 with {"ok": false, "error": {...}}.
//
//   {"step": "start", "issuer", "client_id", "scope"}
//     -> discovery, then initiateDeviceAuthorization: {"response": {device_code, user_code, ...}, "server": {...}}
//
//   {"step": "poll", "issuer", "client_id", "response": {...the start step's response}}
//     -> pollDeviceAuthorizationGrant until the person decides (the library handles authorization_pending
//        and slow_down), the ID token's claims, UserInfo, and how a second redemption of the same device
//        code fails.
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
  return out
}

async function configure(input) {
  // A public kiosk: client authentication "none", its client_id only.
  const config = await client.discovery(new URL(input.issuer), input.client_id, undefined, client.None(), {
    execute: [client.allowInsecureRequests], // the test server is http on loopback
    timeout: TIMEOUT_MS / 1000,
  })
  config.timeout = TIMEOUT_MS / 1000
  return config
}

async function start(input) {
  const config = await configure(input)
  const response = await client.initiateDeviceAuthorization(config, { scope: input.scope })
  return { response: { ...response }, server: config.serverMetadata() }
}

async function poll(input) {
  const config = await configure(input)
  const tokens = await client.pollDeviceAuthorizationGrant(config, input.response)
  const claims = tokens.claims()
  const out = {
    token: { token_type: tokens.token_type, scope: tokens.scope, has_refresh_token: typeof tokens.refresh_token === 'string' },
    claims: { ...claims },
    userinfo: { ...(await client.fetchUserInfo(config, tokens.access_token, claims.sub)) },
  }
  try {
    await client.pollDeviceAuthorizationGrant(config, { ...input.response, interval: 0 })
    out.second_use = { failed: false }
  } catch (error) {
    out.second_use = { failed: true, ...describeError(error) }
  }
  return out
}

const STEPS = { start, poll }

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
