-- hash_get.lua: reads one record (library, item or session). KEYS[2] = the record's key.
-- Answer: {'OK', now, field, value, ...} or {'NOT_FOUND'}.
local rec = redis.call('HGETALL', KEYS[2])
if #rec == 0 then return {'NOT_FOUND'} end
local out = {'OK', now}
for i = 1, #rec do out[i + 2] = rec[i] end
return out
