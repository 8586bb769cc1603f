-- session_create.lua: opens an update session. KEYS[2] item, KEYS[3] item lock, KEYS[4] item
-- fence counter, KEYS[5] session record, KEYS[6] deadline index, KEYS[7] client token (optional).
-- ARGV[3] session id, ARGV[4] session timeout ms, ARGV[5] lock backstop ms, ARGV[6] token
-- retention ms, ARGV[7] warning behavior JSON or '', ARGV[8] key prefix, ARGV[9] item id.
local sid, item_id = ARGV[3], ARGV[9]
if KEYS[7] then
  local tok = redis.call('HMGET', KEYS[7], 'user', 'item', 'sid')
  if tok[1] then
    if tok[1] == user and tok[2] == item_id then return {'OK', tok[3]} end
    return {'TOKEN_CONFLICT'}
  end
end
local it = redis.call('HMGET', KEYS[2], 'library_type', 'content_version')
if not it[1] then return {'NOT_FOUND'} end
if it[1] == 'SUBSCRIBED' then return {'WRONG_TYPE'} end
if not redis.call('SET', KEYS[3], sid, 'NX', 'PX', ARGV[5]) then
  return {'BUSY', redis.call('GET', KEYS[3])}
end
local fence = redis.call('INCR', KEYS[4])
local deadline = now + tonumber(ARGV[4])
redis.call('HSET', KEYS[5], 'id', sid, 'item', item_id, 'cv', it[2] or '1', 'state', 'ACTIVE',
           'progress', 0, 'deadline', deadline, 'created', now, 'owner', user, 'fence', fence)
if ARGV[7] ~= '' then redis.call('HSET', KEYS[5], 'wb', ARGV[7]) end
redis.call('ZADD', KEYS[6], deadline, sid)
redis.call('ZADD', ARGV[8] .. 'user:' .. user .. ':sessions', now, sid)
if KEYS[7] then
  redis.call('HSET', KEYS[7], 'user', user, 'item', item_id, 'sid', sid)
  redis.call('PEXPIRE', KEYS[7], ARGV[6])
end
return {'OK', sid}
