-- session_get.lua: reads one update session record, for its owner or an operator (session_lib's
-- session_access); to anyone else it does not exist. KEYS[2] the record; ARGV[3] the session id
-- (answered as the field 'id': records do not store it, which keeps them in Redis's compact
-- encoding). Answer: {'OK', now, field, value, ...} or {'NOT_FOUND'}.
if not session_access(KEYS[2], user, operator, true) then return {'NOT_FOUND'} end
local rec = redis.call('HGETALL', KEYS[2])
if #rec == 0 then return {'NOT_FOUND'} end
local out = {'OK', now}
for i = 1, #rec do out[i + 2] = rec[i] end
out[#out + 1] = 'id'
out[#out + 1] = ARGV[3]
return out
