-- tests/bench/sessions.lua: wrk script of the "create" scenario of scripts/bench.sh.
--   wrk -t2 -c32 -d10s -s tests/bench/sessions.lua -H 'vmware-api-session-id: TOKEN' \
--       http://127.0.0.1:PORT/api/content/library/item/update-session -- IDFILE THREADS
-- Every request is POST {"library_item_id":"<id>"} (application/json) with the next item id
-- of IDFILE (one id per line). Thread t (0-based, of THREADS = wrk's -t) owns lines
-- t+1, t+1+THREADS, t+1+2*THREADS, ... so no two requests name the same item. A thread that
-- has used all its ids starts over and counts each such request in `reused` (the server then
-- answers RESOURCE_BUSY; scripts/bench.sh reports reused as errors of a server run).
-- done() prints the BENCHRESULT line of report.lua plus
--   reused=N used=U0,U1,...   (U_t = requests thread t built, i.e. ids it consumed)
-- so bench.sh can drop the consumed ids from its pool.

local src = debug.getinfo(1, "S").source
dofile((src:match("^@(.*/)") or "./") .. "report.lua")

local nthreads_seen = 0

function setup(thread)
   thread:set("tid", nthreads_seen)
   nthreads_seen = nthreads_seen + 1
   bench_track(thread)
end

function init(args)
   local file, nthreads = args[1], tonumber(args[2])
   assert(file and nthreads and nthreads >= 1, "sessions.lua: arguments: IDFILE THREADS")
   ids = {}
   local i = 0
   for line in io.lines(file) do
      if i % nthreads == tid and line ~= "" then ids[#ids + 1] = line end
      i = i + 1
   end
   assert(#ids > 0, "sessions.lua: no ids for thread " .. tid .. " in " .. file)
   pos = 1
   used = 0
   reused = 0
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   local id = ids[pos]
   used = used + 1
   if used > #ids then reused = reused + 1 end
   pos = pos + 1
   if pos > #ids then pos = 1 end
   return wrk.format("POST", nil, nil, '{"library_item_id":"' .. id .. '"}')
end

function done(summary, latency, requests)
   local reused_total, used_list = 0, {}
   for _, thread in ipairs(bench_threads) do
      reused_total = reused_total + thread:get("reused")
      used_list[thread:get("tid") + 1] = string.format("%d", thread:get("used"))
   end
   bench_report(summary, latency,
                string.format(" reused=%d used=%s", reused_total, table.concat(used_list, ",")))
end
