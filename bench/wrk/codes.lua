-- Authorization code exchange: POST BENCH_PATH (the token endpoint) with grant_type=authorization_code,
-- each code from BENCH_CODES_FILE used exactly once (thread i of n takes lines i, i+n, ...). When a
-- thread runs out it stops and reports "exhausted": the driver then mints more codes and runs again.
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local common = require("common")

setup = common.setup

local codes, next_index = {}, 1
local headers
local redirect_uri = common.urlencode(os.getenv("BENCH_REDIRECT_URI") or "")
exhausted = false
used = 0

function init(args)
   codes = common.read_lines(os.getenv("BENCH_CODES_FILE"), tid, nthreads)
   headers = common.env_headers()
   headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
   if common.is_probe() then
      return wrk.format("POST", os.getenv("BENCH_PATH"), headers, "grant_type=authorization_code&code=probe")
   end
   local code = codes[next_index]
   if code == nil then
      exhausted = true
      wrk.thread:stop()
      code = "exhausted"
   else
      next_index = next_index + 1
      used = used + 1
   end
   return wrk.format("POST", os.getenv("BENCH_PATH"), headers,
                     "grant_type=authorization_code&code=" .. code .. "&redirect_uri=" .. redirect_uri)
end

function response(status, headers, body)
   common.count(status, body)
end

function done(summary, latency, requests)
   common.done(summary, latency, requests, { "exhausted", "used" })
end
