-- tests/bench/get.lua: wrk script of the "get" scenario of scripts/bench.sh.
--   wrk -t2 -c32 -d10s -s tests/bench/get.lua -H 'vmware-api-session-id: TOKEN' \
--       http://127.0.0.1:PORT/api/content/library/item/update-session/SESSION_ID
-- The request is static (method, path and headers from the command line), so wrk builds it
-- once and runs no Lua per request; the same command runs against evhttp_baseline. done()
-- prints the BENCHRESULT line of report.lua.

local src = debug.getinfo(1, "S").source
dofile((src:match("^@(.*/)") or "./") .. "report.lua")

function setup(thread)
   bench_track(thread)
end

function done(summary, latency, requests)
   bench_report(summary, latency, "")
end
