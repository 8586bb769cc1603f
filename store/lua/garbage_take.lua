-- garbage_take.lua: takes up to ARGV[1] entries off the garbage list (store_garbage_take). Runs
-- without a login and without session_lib: the janitor is the server's own. KEYS[1] = P garbage.
-- LPOP hands each entry to exactly one caller, so janitors on several instances never share
-- work (an entry lost by a crash after the take is the scan's). Answer: {'OK', entry, ...}.
local n = tonumber(ARGV[1])
local out = {'OK'}
if not n or n < 1 then return out end
local got = redis.call('LPOP', KEYS[1], math.floor(n))
if got then
  for i = 1, #got do out[i + 1] = got[i] end
end
return out
