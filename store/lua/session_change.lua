-- session_change.lua: applies one event to one session, atomically (compare-and-set).
-- KEYS[2] record, KEYS[3] item lock, KEYS[4] item, KEYS[5] deadline index.
-- ARGV[3] session id; ARGV[4] the state machine's answer for this event from every state, as
-- "STATE=NEXT/T ..." (T 1 when NEXT is terminal; a state absent from the list refuses it);
-- ARGV[5] activity 0/1; ARGV[6] session timeout ms; ARGV[7] lock backstop ms; ARGV[8] retention
-- ms; ARGV[9] error_message JSON or ''; ARGV[10] client_progress or ''; ARGV[11] has
-- warning_behavior 0/1; ARGV[12] warning_behavior JSON; ARGV[13] delete 0/1; ARGV[14] the state
-- an expiry leads to; ARGV[15] the expiry message JSON; ARGV[16] key prefix; ARGV[17] '1' when
-- an operator may apply this event to another user's session (session_lib's session_access);
-- ARGV[18] the event's name (the events stream's reason).
-- Answer: {'OK', state before, state after} ({'OK', state before} for delete) | {'NOT_FOUND'} | {'STATE_CHANGED', state} |
-- {'PROGRESS_LOWER', progress}.
-- Complete never comes here (store_session_change refuses EV_COMPLETE): the one publish path
-- is session_complete.lua. Delete also drops the session's file records.
local sid = ARGV[3]
if redis.call('EXISTS', KEYS[2]) == 0 or
   not session_access(KEYS[2], user, operator, ARGV[17] == '1') then
  return {'NOT_FOUND'}
end
session_expire_if_due(KEYS[2], KEYS[3], KEYS[4], KEYS[5], sid, ARGV[14], ARGV[15], ARGV[8], now, true)
local cur = redis.call('HMGET', KEYS[2], 'state', 'progress', 'owner')
local nxt, terminal = string.match(' ' .. ARGV[4] .. ' ', ' ' .. cur[1] .. '=(%u+)/(%d) ')
if not nxt then return {'STATE_CHANGED', cur[1]} end
if ARGV[13] == '1' then
  redis.call('DEL', KEYS[2], KEYS[2] .. ':files')
  redis.call('ZREM', ARGV[16] .. 'user:' .. cur[3] .. ':sessions', sid)
  return {'OK', cur[1]}
end
if ARGV[10] ~= '' then
  if tonumber(ARGV[10]) < tonumber(cur[2]) then return {'PROGRESS_LOWER', cur[2]} end
  redis.call('HSET', KEYS[2], 'progress', ARGV[10])
end
if ARGV[11] == '1' then
  if ARGV[12] == '' then redis.call('HDEL', KEYS[2], 'wb') else redis.call('HSET', KEYS[2], 'wb', ARGV[12]) end
end
if terminal == '1' then
  session_finish(KEYS[2], KEYS[3], KEYS[4], KEYS[5], sid, nxt, ARGV[9], ARGV[8], now, nil, user,
                 ARGV[18])
elseif ARGV[5] == '1' then
  session_touch(KEYS[2], KEYS[3], KEYS[5], sid, ARGV[6], ARGV[7], now)
end
return {'OK', cur[1], nxt}
