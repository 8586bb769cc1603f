-- session_lib.lua: how a session record ends, shared by every script that can end one
-- (session_change, session_create when it finds the item's lock held by an expired session,
-- sweep). store/redis.c joins it in front of those scripts. It only defines functions; which
-- transition is legal was decided in C (core/fsm.c) and arrives as arguments.

-- The record, lock and item keys of session id "<item>:<uuid>" (nil for a malformed id).
local function session_keys(prefix, sid)
  local item, uuid = string.match(sid, '^(.*):([^:]*)$')
  if not item then return nil end
  local base = prefix .. '{' .. item .. '}:'
  return base .. 's:' .. uuid, base .. 'lock', base .. 'item'
end

-- Moves a session into the terminal state `state`: releases the item lock by compare-and-delete
-- (only if it still names this session), drops the deadline entry, starts the retention clock;
-- DONE also raises the item's content_version.
local function session_finish(rec, lock, itemkey, deadlines, sid, state, err, retention_ms, now)
  redis.call('HSET', rec, 'state', state, 'finished', now)
  if err and err ~= '' then redis.call('HSET', rec, 'err', err) end
  if redis.call('GET', lock) == sid then redis.call('DEL', lock) end
  redis.call('ZREM', deadlines, sid)
  redis.call('PEXPIRE', rec, retention_ms)
  if state == 'DONE' and redis.call('EXISTS', itemkey) == 1 then
    redis.call('HINCRBY', itemkey, 'content_version', 1)
    redis.call('HSET', itemkey, 'modified', now)
  end
end

-- An ACTIVE session whose deadline has passed (strictly: it never expires before its
-- expiration_time) ends in `expire_to` with the expiry message. True when it expired it.
local function session_expire_if_due(rec, lock, itemkey, deadlines, sid, expire_to, msg,
                                     retention_ms, now)
  local s = redis.call('HMGET', rec, 'state', 'deadline')
  if s[1] == 'ACTIVE' and tonumber(s[2]) < now then
    session_finish(rec, lock, itemkey, deadlines, sid, expire_to, msg, retention_ms, now)
    return true
  end
  return false
end
