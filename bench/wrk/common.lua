-- Shared by the wrk scripts of bench/oidc_bench.py: thread numbering, response accounting and a
-- one-line JSON summary ("BENCH_JSON {...}") that the Python driver parses.
--
-- Every response is counted by status; a 2xx whose body does not match BENCH_EXPECT (a Lua pattern,
-- e.g. '"active"%s*:%s*true' for introspection) counts as "unexpected", so a 200 that says
-- {"active": false} or carries no token is an error too.
local M = {}

local threads = {}

-- wrk calls setup() and then that thread's init() before it sets up the next thread, so the number of
-- threads comes from BENCH_THREADS (the driver passes the same number to wrk -t).
function M.setup(thread)
   thread:set("tid", #threads)
   thread:set("nthreads", tonumber(os.getenv("BENCH_THREADS") or "1"))
   table.insert(threads, thread)
end

-- per-thread state (each wrk thread has its own Lua state)
statuses = {}
non2xx = 0
unexpected = 0
local expect = os.getenv("BENCH_EXPECT")
if expect == "" then expect = nil end

function M.count(status, body)
   statuses[status] = (statuses[status] or 0) + 1
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
   elseif expect and not (body and body:find(expect)) then
      unexpected = unexpected + 1
   end
end

function M.env_headers()
   -- BENCH_HEADERS: "Name: value" lines
   local headers = {}
   for line in (os.getenv("BENCH_HEADERS") or ""):gmatch("[^\n]+") do
      local name, value = line:match("^([^:]+):%s*(.*)$")
      if name then headers[name] = value end
   end
   return headers
end

-- Before it starts, wrk calls request() once in the first thread's state to see how many requests the
-- returned string holds (script_verify_request); that request is never sent. Scripts that hand out
-- single-use tokens answer that call with M.is_probe() and a placeholder, so no token is lost.
local probed = false
function M.is_probe()
   if probed then return false end
   probed = true
   return tid == 0
end

function M.read_lines(path, tid, nthreads)
   -- the lines of `path` that belong to thread `tid` of `nthreads` (round robin), in file order
   local out = {}
   local fh = assert(io.open(path, "r"))
   local i = 0
   for line in fh:lines() do
      if line ~= "" then
         if i % nthreads == tid then table.insert(out, line) end
         i = i + 1
      end
   end
   fh:close()
   return out
end

function M.urlencode(s)
   return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local function encode(value)
   local kind = type(value)
   if kind == "number" then
      if value ~= value or value == math.huge or value == -math.huge then return "null" end
      return string.format("%.17g", value)
   elseif kind == "boolean" then
      return value and "true" or "false"
   elseif kind == "string" then
      return '"' .. value:gsub('[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end) .. '"'
   elseif kind == "table" then
      local parts = {}
      for k, v in pairs(value) do
         table.insert(parts, encode(tostring(k)) .. ":" .. encode(v))
      end
      return "{" .. table.concat(parts, ",") .. "}"
   end
   return "null"
end

function M.done(summary, latency, requests, extra)
   local result = {
      requests = summary.requests, duration_us = summary.duration, bytes = summary.bytes,
      errors = { connect = summary.errors.connect, read = summary.errors.read, write = summary.errors.write,
                 status = summary.errors.status, timeout = summary.errors.timeout },
      latency_us = { p50 = latency:percentile(50), p90 = latency:percentile(90), p99 = latency:percentile(99),
                     max = latency.max, mean = latency.mean },
      non2xx = 0, unexpected = 0, statuses = {}, threads = #threads,
   }
   for _, t in ipairs(threads) do
      result.non2xx = result.non2xx + (t:get("non2xx") or 0)
      result.unexpected = result.unexpected + (t:get("unexpected") or 0)
      for status, n in pairs(t:get("statuses") or {}) do
         result.statuses[tostring(status)] = (result.statuses[tostring(status)] or 0) + n
      end
      for _, name in ipairs(extra or {}) do
         local v = t:get(name)
         if type(v) == "number" then
            result[name] = (result[name] or 0) + v
         elseif type(v) == "boolean" then
            result[name] = result[name] or v
         end
      end
   end
   io.write("BENCH_JSON " .. encode(result) .. "\n")
end

return M
