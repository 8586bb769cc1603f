-- session_read.lua: one update session record and Redis TIME, for a caller whose login came
-- from this instance's login cache (store/logincache.c): no prelude, no session_lib, so the
-- read costs Redis two cheap commands. The owner rule is applied in C (store/sessions.c) from
-- the record's 'owner'. KEYS[1] the record. Answer: {'OK', now, field, value, ...} or
-- {'NOT_FOUND'}.
local rec = redis.call('HGETALL', KEYS[1])
if #rec == 0 then return {'NOT_FOUND'} end
local t = redis.call('TIME')
local out = {'OK', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)}
for i = 1, #rec do out[i + 2] = rec[i] end
return out
