-- library_delete.lua: deletes a library of the given type with its items (records, locks,
-- published file lists; each item's ACTIVE session ends and its directory goes on the garbage
-- list, as item_delete.lua). KEYS[2] library record, KEYS[3] library index, KEYS[4] its items,
-- KEYS[5] its name index. ARGV[3] id, ARGV[4] type, ARGV[5] key prefix, ARGV[6] retention ms,
-- ARGV[7] the state cancel leads an ACTIVE session to, ARGV[8] the message it records.
-- Answer: {'OK', number of sessions it ended} | {'NOT_FOUND'}.
if redis.call('HGET', KEYS[2], 'type') ~= ARGV[4] then return {'NOT_FOUND'} end
local ended = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[4], 0, -1)) do
  if item_gone(ARGV[5], id, ARGV[7], ARGV[8], ARGV[6], now, user, 'library_delete') then
    ended = ended + 1
  end
  local k = ARGV[5] .. '{' .. id .. '}:'
  redis.call('DEL', k .. 'item', k .. 'lock', k .. 'fence', k .. 'files')
end
redis.call('DEL', KEYS[2], KEYS[4], KEYS[5])
redis.call('ZREM', KEYS[3], ARGV[3])
return {'OK', tostring(ended)}
