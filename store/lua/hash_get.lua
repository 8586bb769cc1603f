-- hash_get.lua: reads one record (library, item or session). KEYS[2] = the record's key.
-- ARGV[3], if given, is answered as the field 'id': session records do not store their id (it
-- is their key's name), which keeps them under Redis's compact-encoding limit of 64-byte values.
-- Answer: {'OK', now, field, value, ...} or {'NOT_FOUND'}.
local rec = redis.call('HGETALL', KEYS[2])
if #rec == 0 then return {'NOT_FOUND'} end
local out = {'OK', now}
for i = 1, #rec do out[i + 2] = rec[i] end
if ARGV[3] then out[#out + 1] = 'id'; out[#out + 1] = ARGV[3] end
return out
