-- wrk script of bench.http and bench.batch: replays a request file, counts every status.
--
--   wrk ... -s bench/wrk_requests.lua http://127.0.0.1:PORT -- REQUEST_FILE
--
-- A request file (written by bench/serving.py) has one request per line:
--
--   METHOD <tab> PATH <tab> AUTHORIZATION (or empty) <tab> BODY (or empty)
--
-- Each wrk thread cycles through the lines in order, thread i starting at
-- line i * (lines / threads) + 1, so threads use different players at a time.
-- Every "{score}" in a body becomes a fresh random integer in [0, 10^9) for
-- every request; a line without one is formatted once, in init().
--
-- done() prints one line, "WRK_JSON {...}": the run summary, latency
-- percentiles (microseconds) and the count of every HTTP status seen.

local threads = {}
local thread_count = 0

function setup(thread)
   thread_count = thread_count + 1
   thread:set("id", thread_count)
   table.insert(threads, thread)
end

local function split(line)
   local fields = {}
   local start = 1
   while true do
      local tab = string.find(line, "\t", start, true)
      if not tab then
         table.insert(fields, string.sub(line, start))
         return fields
      end
      table.insert(fields, string.sub(line, start, tab - 1))
      start = tab + 1
   end
end

local requests = {}
local templates = {}
local position = 0

function init(args)
   local file = assert(io.open(args[1], "r"))
   for line in file:lines() do
      if #line > 0 then
         local method, path, authorization, body = unpack(split(line))
         local headers = {}
         if authorization and #authorization > 0 then
            headers["Authorization"] = authorization
         end
         if body and #body > 0 then
            headers["Content-Type"] = "application/json"
         else
            body = nil
         end
         if body and string.find(body, "{score}", 1, true) then
            table.insert(requests, false)
            table.insert(templates, {method, path, headers, body})
         else
            table.insert(requests, wrk.format(method, path, headers, body))
            table.insert(templates, false)
         end
      end
   end
   file:close()
   assert(#requests > 0, "empty request file " .. args[1])
   local threads_total = tonumber(args[2] or "1")
   position = math.floor((id - 1) * #requests / threads_total)
   math.randomseed(os.time() * 100 + id)
   statuses = {}
end

local function random_score()
   return tostring(math.random(0, 999999999))
end

function request()
   position = position % #requests + 1
   local prepared = requests[position]
   if prepared then
      return prepared
   end
   local t = templates[position]
   return wrk.format(t[1], t[2], t[3], (string.gsub(t[4], "{score}", random_score)))
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, _)
   local counts = {}
   for _, thread in ipairs(threads) do
      for status, count in pairs(thread:get("statuses")) do
         counts[status] = (counts[status] or 0) + count
      end
   end
   local parts = {}
   for status, count in pairs(counts) do
      table.insert(parts, string.format('"%d": %d', status, count))
   end
   local e = summary.errors
   print(string.format(
      'WRK_JSON {"duration_us": %d, "requests": %d, "bytes": %d, '
         .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
         .. '"latency_us": {"min": %d, "mean": %.1f, "stdev": %.1f, "max": %d, '
         .. '"p50": %d, "p90": %d, "p99": %d, "p99.9": %d}, "statuses": {%s}}',
      summary.duration, summary.requests, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.min, latency.mean, latency.stdev, latency.max,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
      table.concat(parts, ", ")))
end
