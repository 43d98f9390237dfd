-- wrk script for bench/desk_api.py: the Authorization header, POST bodies, random ticket ids,
-- and a summary line the bench parses. Arguments (after wrk's "--"):
--   TOKEN fixed METHOD PATH [BODY]   the same request every time (BODY: JSON, for POST)
--   TOKEN ids PREFIX LOW HIGH        GET PREFIX .. n, n uniform in [LOW, HIGH]
-- No response() callback: wrk would then hand every response to Lua, which costs wrk CPU
-- on a machine whose cores the controller needs. Failed requests are wrk's own counts:
-- errors.status is HTTP status > 399 (the bench checks each route answers 2xx first).

local prefix, low, high
local fixed

function init(args)
   wrk.headers["Authorization"] = "Bearer " .. args[1]
   local mode = args[2]
   if mode == "ids" then
      prefix, low, high = args[3], tonumber(args[4]), tonumber(args[5])
      -- Each thread its own sequence: the address of a fresh table differs per thread.
      math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
   elseif mode == "fixed" then
      local body = args[5]
      if body then
         wrk.headers["Content-Type"] = "application/json"
      end
      fixed = wrk.format(args[3], args[4], nil, body)
   else
      error("desk_api.lua: mode must be fixed or ids, not " .. tostring(mode))
   end
end

function request()
   if fixed then
      return fixed
   end
   return wrk.format("GET", prefix .. math.random(low, high))
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'DESKSIDE_JSON {"requests": %d, "duration_us": %d, "bytes": %d, '
         .. '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, '
         .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean))
end
