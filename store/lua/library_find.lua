-- library_find.lua: libraries by name (case-insensitive, exact) and/or type. KEYS[2] library
-- index. ARGV[3] name or '', ARGV[4] type or '', ARGV[5] key prefix.
local name = string.lower(ARGV[3])
local out = {'OK'}
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  local f = redis.call('HMGET', ARGV[5] .. 'lib:' .. id, 'name', 'type')
  if f[1] and (name == '' or string.lower(f[1]) == name) and (ARGV[4] == '' or f[2] == ARGV[4]) then
    out[#out + 1] = id
  end
end
return out
