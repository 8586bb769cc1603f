-- tests/bench/report.lua: the reporting half shared by the wrk scripts of scripts/bench.sh
-- (get.lua, sessions.lua; loaded with dofile, not run by itself). It keeps the wrk thread
-- objects seen in setup() and prints one machine-readable line from done():
--   BENCHRESULT requests=N seconds=S rps=R p50_us=A p99_us=B status_errors=E socket_errors=F ...
-- status_errors is wrk's count of responses with a status >= 400; socket_errors adds up
-- connect, read, write and timeout errors. Scripts may append " key=value" pairs.

bench_threads = {}

function bench_track(thread)
   table.insert(bench_threads, thread)
end

function bench_report(summary, latency, extra)
   local e = summary.errors
   local secs = summary.duration / 1e6
   local rps = 0
   if secs > 0 then rps = summary.requests / secs end
   io.write(string.format(
      "BENCHRESULT requests=%d seconds=%.3f rps=%.1f p50_us=%.0f p99_us=%.0f" ..
      " status_errors=%d socket_errors=%d%s\n",
      summary.requests, secs, rps, latency:percentile(50), latency:percentile(99),
      e.status, e.connect + e.read + e.write + e.timeout, extra or ""))
end

-- The folder of the script being loaded, for dofile() of this file.
function bench_dir(level)
   local src = debug.getinfo(level or 2, "S").source
   return src:match("^@(.*/)") or "./"
end
