-- session_list.lua: the caller's sessions, optionally only those of one item. KEYS[2] = that
-- item (optional); ARGV[3] key prefix, ARGV[4] item id. An operator (session_lib's
-- session_access) listing one item also sees the ACTIVE session that holds it, whoever owns
-- it: the one to cancel to free the item.
-- The user's list holds the ids of sessions whose record exists, except those whose retention
-- has just ended: the record's TTL and its retire entries end together (their times differ by
-- a millisecond at most: the script's clock and Redis TIME), and the sweeper drops the id from
-- the list a little later. So only the user's own retire entries that are due, or nearly
-- (P user:<user>:retire, 10 ms ahead), have their record looked up: the sweeper's short
-- backlog of this user's sessions, whatever the size of the store.
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 0 then return {'NOT_FOUND'} end
local ukey = ARGV[3] .. 'user:' .. user .. ':sessions'
local gone = {}
for _, sid in ipairs(redis.call('ZRANGEBYSCORE', ARGV[3] .. 'user:' .. user .. ':retire', '-inf',
                                now + 10)) do
  local item, uuid = string.match(sid, '^(.*):([^:]*)$')
  if not item or redis.call('EXISTS', ARGV[3] .. '{' .. item .. '}:s:' .. uuid) == 0 then
    gone[sid] = true
  end
end
local ids = redis.call('ZRANGE', ukey, 0, -1)
if not ARGV[4] and next(gone) == nil then
  table.insert(ids, 1, 'OK') -- the whole list as it is: no loop in Lua over the ids
  return ids
end
local out = {'OK'}
for _, id in ipairs(ids) do
  if not gone[id] and (not ARGV[4] or ARGV[4] == string.match(id, '^(.*):[^:]*$')) then
    out[#out + 1] = id
  end
end
if ARGV[4] and operator then
  local holder = redis.call('GET', ARGV[3] .. '{' .. ARGV[4] .. '}:lock')
  local seen = false
  for i = 2, #out do seen = seen or out[i] == holder end
  if holder and not seen then out[#out + 1] = holder end
end
return out
