-- list.lua: the members of a sorted set of ids, oldest first. KEYS[#KEYS] = the set; with three
-- keys, KEYS[2] is its owner (a library), which must exist.
if #KEYS == 3 and redis.call('EXISTS', KEYS[2]) == 0 then return {'NOT_FOUND'} end
local out = {'OK'}
for _, id in ipairs(redis.call('ZRANGE', KEYS[#KEYS], 0, -1)) do out[#out + 1] = id end
return out
