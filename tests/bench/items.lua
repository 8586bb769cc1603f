-- tests/bench/items.lua: wrk script that fills the item pool of scripts/bench.sh (setup, not
-- a measurement).
--   wrk -t1 -c32 -d5s -s tests/bench/items.lua -H 'vmware-api-session-id: TOKEN' \
--       http://127.0.0.1:PORT/api/content/library/item -- OUTFILE LIBRARY_ID RUN
-- Every request is POST {"library_id":LIBRARY_ID,"name":"b<RUN>-<thread>-<n>","type":""},
-- a name never used before as long as RUN differs between runs. Each 2xx response whose body
-- is a JSON string (the new item's id) appends that id as one line to OUTFILE; anything else
-- is counted as failed, the first one kept for the report. done() prints
--   ITEMSRESULT created=N failed=F seconds=S rps=R first_failure=<status body...>

local nthreads_seen = 0
local threads = {}

function setup(thread)
   thread:set("tid", nthreads_seen)
   nthreads_seen = nthreads_seen + 1
   table.insert(threads, thread)
end

function init(args)
   assert(args[1] and args[2] and args[3], "items.lua: arguments: OUTFILE LIBRARY_ID RUN")
   out = assert(io.open(args[1], "a"))
   out:setvbuf("line") -- wrk never closes thread states: write each id through
   library_id = args[2]
   run = args[3]
   n = 0
   created = 0
   failed = 0
   first_failure = ""
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   n = n + 1
   return wrk.format("POST", nil, nil, string.format(
      '{"library_id":"%s","name":"b%s-%d-%d","type":""}', library_id, run, tid, n))
end

function response(status, headers, body)
   local id = nil
   if status >= 200 and status < 300 then id = body:match('^%s*"([^"\\]+)"%s*$') end
   if id then
      out:write(id, "\n")
      created = created + 1
   else
      failed = failed + 1
      if first_failure == "" then
         first_failure = (status .. " " .. body:sub(1, 300)):gsub("%s+", " ")
      end
   end
end

function done(summary, latency, requests)
   local c, f, first = 0, 0, ""
   for _, thread in ipairs(threads) do
      c = c + thread:get("created")
      f = f + thread:get("failed")
      if first == "" then first = thread:get("first_failure") end
   end
   local secs = summary.duration / 1e6
   io.write(string.format("ITEMSRESULT created=%d failed=%d seconds=%.3f rps=%.1f first_failure=%s\n",
                          c, f, secs, secs > 0 and c / secs or 0, first))
end
