-- session_lib.lua: how a session record ends, is kept alive and publishes its files, shared by
-- every script that can end one (session_change, session_create when it finds the item's lock
-- held by an expired session, sweep, session_complete, transfer_end) and by the file scripts.
-- store/redis.c joins it in front of those scripts. It only defines functions; which
-- transition is legal was decided in C (core/fsm.c) and arrives as arguments.

-- Redis TIME in ms, for the scripts that run without the prelude (which sets `now` itself).
local function time_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The record, lock, item, session files and item files keys of session id "<item>:<uuid>"
-- (nil for a malformed id).
local function session_keys(prefix, sid)
  local item, uuid = string.match(sid, '^(.*):([^:]*)$')
  if not item then return nil end
  local base = prefix .. '{' .. item .. '}:'
  return base .. 's:' .. uuid, base .. 'lock', base .. 'item', base .. 's:' .. uuid .. ':files',
         base .. 'files'
end

-- Moves a session into the terminal state `state`: releases the item lock by compare-and-delete
-- (only if it still names this session), drops the deadline entry, starts the retention clock
-- (of the record and of its files). It does not publish: a DONE session's files and the item's
-- content_version are session_publish's, called by whoever completes.
local function session_finish(rec, lock, itemkey, deadlines, sid, state, err, retention_ms, now,
                              keep_index)
  redis.call('HSET', rec, 'state', state, 'finished', now)
  redis.call('HDEL', rec, 'complete_requested')
  if err and err ~= '' then redis.call('HSET', rec, 'err', err) end
  if redis.call('GET', lock) == sid then redis.call('DEL', lock) end
  if not keep_index then redis.call('ZREM', deadlines, sid) end
  redis.call('PEXPIRE', rec, retention_ms)
  redis.call('PEXPIRE', rec .. ':files', retention_ms)
end

-- An ACTIVE session whose deadline has passed (strictly: it never expires before its
-- expiration_time) ends in `expire_to` with the expiry message. True when it expired it.
-- Every path but the sweeper keeps the deadline-index entry (keep_index): the next sweep then
-- finds the session ended and reports it, so some instance discards its staged data.
local function session_expire_if_due(rec, lock, itemkey, deadlines, sid, expire_to, msg,
                                     retention_ms, now, keep_index)
  local s = redis.call('HMGET', rec, 'state', 'deadline')
  if s[1] == 'ACTIVE' and tonumber(s[2]) < now then
    session_finish(rec, lock, itemkey, deadlines, sid, expire_to, msg, retention_ms, now,
                   keep_index)
    return true
  end
  return false
end

-- Activity: the deadline moves to now + the session timeout (record and deadline index), and
-- the item lock's backstop TTL is renewed if the lock still names this session.
local function session_touch(rec, lock, deadlines, sid, timeout_ms, lock_ms, now)
  local deadline = now + tonumber(timeout_ms)
  redis.call('HSET', rec, 'deadline', deadline)
  redis.call('ZADD', deadlines, deadline, sid)
  if redis.call('GET', lock) == sid then redis.call('PEXPIRE', lock, lock_ms) end
end

-- Makes the session's files the item's (the publishing half of complete): a removed file
-- leaves the item; a READY file (PUSH or PULL) becomes the item's file of that name with
-- version + 1 ("1" when new) and the received checksum; a file the session did not touch
-- (source NONE, not removed) stays as it is. Then the item's content_version + 1, size = sum of
-- its files' sizes, cached = "1", modified = now. Returns the blobs the item no longer
-- references (the caller unlinks them from the item's directory). Nothing happens to an item
-- that is gone.
local function session_publish(files, itemfiles, itemkey, now)
  local gone = {}
  if redis.call('EXISTS', itemkey) == 0 then return gone end
  local sf = redis.call('HGETALL', files)
  for i = 1, #sf, 2 do
    local name, f = sf[i], cjson.decode(sf[i + 1])
    local oldtext = redis.call('HGET', itemfiles, name)
    local old = oldtext and cjson.decode(oldtext) or nil
    if f.removed == true then
      if old then
        redis.call('HDEL', itemfiles, name)
        if old.blob and old.blob ~= '' then gone[#gone + 1] = old.blob end
      end
    elseif f.status == 'READY' and f.source_type ~= 'NONE' then
      local version = old and ((tonumber(old.version) or 0) + 1) or 1
      redis.call('HSET', itemfiles, name, cjson.encode({
        name = name, size = f.size or f.bytes_transferred or 0, checksum = f.received,
        version = tostring(version), blob = f.blob}))
      if old and old.blob and old.blob ~= '' and old.blob ~= f.blob then
        gone[#gone + 1] = old.blob
      end
    end
  end
  local size = 0
  for _, text in ipairs(redis.call('HVALS', itemfiles)) do
    size = size + (tonumber(cjson.decode(text).size) or 0)
  end
  redis.call('HINCRBY', itemkey, 'content_version', 1)
  redis.call('HSET', itemkey, 'size', string.format('%.0f', size), 'cached', '1', 'modified', now)
  return gone
end

-- The opening of every file script. The keys and arguments sit at KEYS[k].. and ARGV[a]..:
-- KEYS record, item lock, item, deadline index, session files, item files; ARGV session id,
-- session timeout ms, lock backstop ms, retention ms, the state an expiry leads to, the expiry
-- message JSON.
local function file_ctx(k, a)
  return {rec = KEYS[k], lock = KEYS[k + 1], item = KEYS[k + 2], deadlines = KEYS[k + 3],
          files = KEYS[k + 4], itemfiles = KEYS[k + 5], sid = ARGV[a], timeout = ARGV[a + 1],
          lock_ms = ARGV[a + 2], retention = ARGV[a + 3], expire_to = ARGV[a + 4],
          expiry_msg = ARGV[a + 5]}
end

-- The session must exist ({'NOT_FOUND'}) and, once an expiry that is due has been applied, be
-- in the state `need` asks for, else {'STATE_CHANGED', state}: 'any' (reads), 'active' (ACTIVE:
-- transfers in flight), 'open' (ACTIVE and no complete requested: a session whose complete
-- waits for its transfers has its file set frozen, so adds, removals and new uploads refuse
-- with state ACTIVE). Returns the refusal, or nil and the state.
local function file_session_check(c, need, now)
  if redis.call('EXISTS', c.rec) == 0 then return {'NOT_FOUND'} end
  session_expire_if_due(c.rec, c.lock, c.item, c.deadlines, c.sid, c.expire_to, c.expiry_msg,
                        c.retention, now, true)
  local s = redis.call('HMGET', c.rec, 'state', 'complete_requested')
  if need ~= 'any' and (s[1] ~= 'ACTIVE' or (need == 'open' and s[2] == '1')) then
    return {'STATE_CHANGED', s[1]}
  end
  return nil, s[1]
end

local function file_touch(c, now)
  session_touch(c.rec, c.lock, c.deadlines, c.sid, c.timeout, c.lock_ms, now)
end

-- The session's record of a file, decoded (nil if none).
local function file_get(c, name)
  local text = redis.call('HGET', c.files, name)
  if not text then return nil end
  return cjson.decode(text)
end

local function file_put(c, name, f)
  local text = cjson.encode(f)
  redis.call('HSET', c.files, name, text)
  return text
end

-- The data plane's view of a transfer: the session must be ACTIVE and its file `name`
-- TRANSFERRING with `blob`. Returns the file's record, decoded, or nil and the refusal
-- ({'STATE_CHANGED', file status or ''} when the file is not that transfer's any more).
local function transfer_file(c, name, blob, now)
  local refused = file_session_check(c, 'active', now)
  if refused then return nil, refused end
  local f = file_get(c, name)
  if not f or f.status ~= 'TRANSFERRING' or f.blob ~= blob then
    return nil, {'STATE_CHANGED', f and f.status or ''}
  end
  return f
end
