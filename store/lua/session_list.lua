-- session_list.lua: the caller's sessions (dropping ids whose record is gone), optionally only
-- those of one item. KEYS[2] = that item (optional); ARGV[3] key prefix, ARGV[4] item id. An
-- operator (session_lib's session_access) listing one item also sees the ACTIVE session that
-- holds it, whoever owns it: the one to cancel to free the item.
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 0 then return {'NOT_FOUND'} end
local ukey = ARGV[3] .. 'user:' .. user .. ':sessions'
local out = {'OK'}
for _, id in ipairs(redis.call('ZRANGE', ukey, 0, -1)) do
  local item, uuid = string.match(id, '^(.*):([^:]*)$')
  if item and redis.call('EXISTS', ARGV[3] .. '{' .. item .. '}:s:' .. uuid) == 1 then
    if not ARGV[4] or ARGV[4] == item then out[#out + 1] = id end
  else
    redis.call('ZREM', ukey, id)
  end
end
if ARGV[4] and operator then
  local holder = redis.call('GET', ARGV[3] .. '{' .. ARGV[4] .. '}:lock')
  local seen = false
  for i = 2, #out do seen = seen or out[i] == holder end
  if holder and not seen then out[#out + 1] = holder end
end
return out
