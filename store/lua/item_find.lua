-- item_find.lua: items by name (case-insensitive), library, type (case-insensitive) and cached
-- state; '' = any. KEYS[2] library index. ARGV[3] name, ARGV[4] library id, ARGV[5] type,
-- ARGV[6] cached ('1', '0' or ''), ARGV[7] key prefix.
local p = ARGV[7]
local name, typ = string.lower(ARGV[3]), string.lower(ARGV[5])
local libs = ARGV[4] ~= '' and {ARGV[4]} or redis.call('ZRANGE', KEYS[2], 0, -1)
local out = {'OK'}
for _, lib in ipairs(libs) do
  for _, id in ipairs(redis.call('ZRANGE', p .. 'lib:' .. lib .. ':items', 0, -1)) do
    local f = redis.call('HMGET', p .. '{' .. id .. '}:item', 'name', 'type', 'cached')
    if f[1] and (name == '' or string.lower(f[1]) == name)
        and (typ == '' or string.lower(f[2] or '') == typ)
        and (ARGV[6] == '' or f[3] == ARGV[6]) then
      out[#out + 1] = id
    end
  end
end
return out
