-- library_delete.lua: deletes a library of the given type with its items (records, locks,
-- fences, published file lists). KEYS[2] library record, KEYS[3] library index, KEYS[4] its items, KEYS[5] its name
-- index. ARGV[3] id, ARGV[4] type, ARGV[5] key prefix.
if redis.call('HGET', KEYS[2], 'type') ~= ARGV[4] then return {'NOT_FOUND'} end
for _, id in ipairs(redis.call('ZRANGE', KEYS[4], 0, -1)) do
  local k = ARGV[5] .. '{' .. id .. '}:'
  redis.call('DEL', k .. 'item', k .. 'lock', k .. 'fence', k .. 'files')
end
redis.call('DEL', KEYS[2], KEYS[4], KEYS[5])
redis.call('ZREM', KEYS[3], ARGV[3])
return {'OK'}
