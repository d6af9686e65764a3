-- One fixed request, again and again: BENCH_METHOD, BENCH_PATH, BENCH_BODY, BENCH_HEADERS (see common.lua).
-- Used for discovery, JWKS, client_credentials, userinfo and introspection.
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local common = require("common")

wrk.method = os.getenv("BENCH_METHOD") or "GET"
wrk.path = os.getenv("BENCH_PATH") or "/"
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then wrk.body = body end
for name, value in pairs(common.env_headers()) do wrk.headers[name] = value end

setup = common.setup

function response(status, headers, body)
   common.count(status, body)
end

function done(summary, latency, requests)
   common.done(summary, latency, requests)
end
