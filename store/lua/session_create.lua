-- session_create.lua: opens an update session. KEYS[2] item, KEYS[3] item lock, KEYS[4] session
-- record, KEYS[5] deadline index, KEYS[6] client token (optional, lower-case: a UUID in either
-- case is one token). ARGV[3] session id, ARGV[4] session timeout ms, ARGV[5] lock backstop ms,
-- ARGV[6] token retention ms, ARGV[7] warning behavior JSON or '', ARGV[8] key prefix, ARGV[9]
-- item id, ARGV[10] the state an expiry leads to, ARGV[11] the expiry message JSON, ARGV[12]
-- retention ms. A lock held by a session that has expired (swept or not) does not block: that
-- session is expired first, exactly as the sweeper would. A token whose session record is gone
-- (retention ended before the token's) names nothing: it is dropped and used as a new token,
-- rather than answering with the id of a session that no longer exists.
-- Answer: {'OK', sid} (created; on the events stream as create: '' -> ACTIVE) | {'OK', sid of
-- the token's session, 'REPLAY'} | {'NOT_FOUND'} | {'WRONG_TYPE'} | {'TOKEN_CONFLICT'} |
-- {'BUSY', holder or ''}.
local sid, item_id = ARGV[3], ARGV[9]
if KEYS[6] then
  local tok = redis.call('HMGET', KEYS[6], 'user', 'item', 'sid')
  if tok[1] then
    local trec = tok[3] and session_keys(ARGV[8], tok[3])
    if not trec or redis.call('EXISTS', trec) == 0 then
      redis.call('DEL', KEYS[6]) -- stale: recorded again below for the new session
    elseif tok[1] == user and tok[2] == item_id then
      return {'OK', tok[3], 'REPLAY'}
    else
      return {'TOKEN_CONFLICT'}
    end
  end
end
local it = redis.call('HMGET', KEYS[2], 'library_type', 'content_version')
if not it[1] then return {'NOT_FOUND'} end
if it[1] == 'SUBSCRIBED' then return {'WRONG_TYPE'} end
-- The lock is tried first (the common case: free, one command); a holder found is looked at
-- only then, and the lock tried again if the holder turned out to be over.
local locked = redis.call('SET', KEYS[3], sid, 'NX', 'PX', ARGV[5])
if not locked then
  local holder = redis.call('GET', KEYS[3])
  local hrec = holder and session_keys(ARGV[8], holder)
  if hrec and redis.call('EXISTS', hrec) == 1 then
    session_expire_if_due(hrec, KEYS[3], KEYS[2], KEYS[5], holder, ARGV[10], ARGV[11], ARGV[12], now, true)
  else
    redis.call('DEL', KEYS[3]) -- the holder's record is gone: nothing can release this lock
  end
  locked = redis.call('SET', KEYS[3], sid, 'NX', 'PX', ARGV[5])
end
if not locked then
  -- the holder's id is named to its owner only (the owner rule: others must not learn it)
  local busy = redis.call('GET', KEYS[3])
  local brec = session_keys(ARGV[8], busy)
  if not brec or redis.call('HGET', brec, 'owner') ~= user then busy = '' end
  return {'BUSY', busy}
end
local deadline = now + tonumber(ARGV[4])
redis.call('HSET', KEYS[4], 'item', item_id, 'cv', it[2] or '1', 'state', 'ACTIVE',
           'progress', 0, 'deadline', deadline, 'created', now, 'owner', user)
if ARGV[7] ~= '' then redis.call('HSET', KEYS[4], 'wb', ARGV[7]) end
redis.call('ZADD', KEYS[5], deadline, sid)
redis.call('ZADD', ARGV[8] .. 'user:' .. user .. ':sessions', now, sid)
session_event(ARGV[8], sid, item_id, user, '', 'ACTIVE', 'create')
if KEYS[6] then
  redis.call('HSET', KEYS[6], 'user', user, 'item', item_id, 'sid', sid)
  redis.call('PEXPIRE', KEYS[6], ARGV[6])
end
return {'OK', sid}
