-- sweep.lua: expires due ACTIVE sessions, at most ARGV[1] per call. Runs without a login (the
-- sweeper is the server's own). KEYS[1] deadline index; ARGV[2] key prefix, ARGV[3] the state an
-- expiry leads to, ARGV[4] the expiry message JSON, ARGV[5] retention ms.
-- Entries whose deadline moved are fixed in the index; entries of sessions that ended by expiry
-- on another path (which leaves the entry for us) or are gone are removed and reported too.
-- Then the users' session lists drop the ids of sessions whose retention ended (P retire: zset
-- of "<user>\n<session id>", score = when the record's retention ends), at most ARGV[1], and
-- the id leaves the user's own retire set (P user:<user>:retire, session_list.lua's).
-- Answer: {'OK', expired here, looked at, id of each session that ended by expiry ...}.
local now = time_ms()
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'LIMIT', 0, tonumber(ARGV[1]))
local expired, ids = 0, {}
for _, sid in ipairs(due) do
  local rec, lock, itemkey = session_keys(ARGV[2], sid)
  if rec and session_expire_if_due(rec, lock, itemkey, KEYS[1], sid, ARGV[3], ARGV[4], ARGV[5], now) then
    expired = expired + 1
    ids[#ids + 1] = sid
  else
    local s = rec and redis.call('HMGET', rec, 'state', 'deadline') or {}
    if s[1] == 'ACTIVE' then
      redis.call('ZADD', KEYS[1], s[2], sid)
    else
      redis.call('ZREM', KEYS[1], sid)
      if rec then ids[#ids + 1] = sid end
    end
  end
end
local retire = ARGV[2] .. 'retire'
for _, entry in ipairs(redis.call('ZRANGEBYSCORE', retire, '-inf', '(' .. now, 'LIMIT', 0,
                                  tonumber(ARGV[1]))) do
  local owner, sid = string.match(entry, '^(.*)\n(.*)$')
  if owner then
    redis.call('ZREM', ARGV[2] .. 'user:' .. owner .. ':sessions', sid)
    redis.call('ZREM', ARGV[2] .. 'user:' .. owner .. ':retire', sid)
  end
  redis.call('ZREM', retire, entry)
end
local out = {'OK', expired, #due}
for i = 1, #ids do out[i + 3] = ids[i] end
return out
