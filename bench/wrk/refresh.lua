-- Refresh with rotation: POST BENCH_PATH (the token endpoint) with grant_type=refresh_token. Each thread
-- takes its share of BENCH_TOKENS_FILE (one pre-issued refresh token per connection) and keeps them on a
-- stack: a request pops one, a 200 pushes the refresh_token it returned. So every token is presented
-- exactly once, there are as many chains of rotations as connections and each request continues one of
-- them (usually the chain its own connection's last answer carried; when two answers arrive in the same
-- event-loop turn two connections may swap chains, which changes nothing for the server). A non-200 ends
-- that chain: a connection that finds the stack empty sends a token that does not exist ("starved"),
-- which the server must refuse, so a broken chain shows up as errors.
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local common = require("common")

setup = common.setup

local stack = {}
local headers
starved = 0
rotations = 0

function init(args)
   stack = common.read_lines(os.getenv("BENCH_TOKENS_FILE"), tid, nthreads)
   headers = common.env_headers()
   headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
   if common.is_probe() then
      return wrk.format("POST", os.getenv("BENCH_PATH"), headers, "grant_type=refresh_token&refresh_token=probe")
   end
   local token = table.remove(stack)
   if token == nil then
      starved = starved + 1
      token = "starved"
   end
   return wrk.format("POST", os.getenv("BENCH_PATH"), headers, "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
   common.count(status, body)
   if status == 200 then
      local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
      if token then
         table.insert(stack, token)
         rotations = rotations + 1
      end
   end
end

function done(summary, latency, requests)
   common.done(summary, latency, requests, { "starved", "rotations" })
end
