-- file_item_list.lua: the item's published files. KEYS[2] item record, KEYS[3] item files.
-- Answer: {'OK', item file, ...} | {'NOT_FOUND'}.
if redis.call('EXISTS', KEYS[2]) == 0 then return {'NOT_FOUND'} end
local out = {'OK'}
for _, v in ipairs(redis.call('HVALS', KEYS[3])) do out[#out + 1] = v end
return out
