-- session_lib.lua: how a session record ends, is kept alive and publishes its files, shared by
-- every script that can end one (session_change, session_create when it finds the item's lock
-- held by an expired session, sweep, session_complete, transfer_end) and by the file scripts.
-- store/redis.c joins it in front of those scripts. It only defines functions; which
-- transition is legal was decided in C (core/fsm.c) and arrives as arguments.

-- The operators' stream P events (README "Redis keys"): one entry per session transition,
-- appended in the same atomic step as the transition and capped near events_max entries (XADD
-- MAXLEN ~). events_max is --events-max, set by the line store/redis.c puts in front of this
-- library; 0: no stream. user false is the server itself (sweeps, pulls, its own complete).
local function session_event(prefix, sid, item, user, from, to, reason)
  if events_max <= 0 then return end
  if user == false then user = 'server' end
  redis.call('XADD', prefix .. 'events', 'MAXLEN', '~', events_max, '*', 'session', sid,
             'item', item, 'user', user or '', 'from', from or '', 'to', to, 'reason', reason)
end

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

-- The key prefix of record key `rec` of session `sid` (rec = prefix .. '{item}:s:uuid').
local function prefix_of(rec, sid)
  local item, uuid = string.match(sid, '^(.*):([^:]*)$')
  return string.sub(rec, 1, #rec - #('{' .. item .. '}:s:' .. uuid)), item, uuid
end

-- Garbage is data (store.h, "Garbage"): a path under the storage directory that no record
-- references any more, pushed in the same atomic step that stopped referencing it.
local function garbage(prefix, path)
  redis.call('RPUSH', prefix .. 'garbage', path)
end

-- Moves a session into the terminal state `state`: releases the item lock by compare-and-delete
-- (only if it still names this session), drops the deadline entry, starts the retention clock
-- (of the record and of its files), deletes its files' upload-token entries (an upload URI
-- lives exactly as long as its session is ACTIVE) and puts its staging directory on the
-- garbage list (a DONE session's files were hard-linked into the item's directory first). It
-- does not publish: that is session_publish's, called by the one complete script. The
-- transition goes on the events stream with the acting user and the reason (the event:
-- complete, cancel, fail, expire, item_delete, library_delete).
local function session_finish(rec, lock, itemkey, deadlines, sid, state, err, retention_ms, now,
                              keep_index, user, reason)
  local from = redis.call('HGET', rec, 'state')
  redis.call('HSET', rec, 'state', state, 'finished', now)
  redis.call('HDEL', rec, 'completion')
  if err and err ~= '' then redis.call('HSET', rec, 'err', err) end
  if redis.call('GET', lock) == sid then redis.call('DEL', lock) end
  if not keep_index then redis.call('ZREM', deadlines, sid) end
  redis.call('PEXPIRE', rec, retention_ms)
  redis.call('PEXPIRE', rec .. ':files', retention_ms)
  local prefix, item, uuid = prefix_of(rec, sid)
  for _, text in ipairs(redis.call('HVALS', rec .. ':files')) do
    local f = cjson.decode(text)
    if f.upload_key then redis.call('DEL', prefix .. 'upload:' .. f.upload_key) end
  end
  garbage(prefix, 'staging/' .. item .. '/' .. uuid)
  session_event(prefix, sid, item, user, from, state, reason)
  redis.call('ZREM', prefix .. 'completing', sid)
  -- the owner's session list drops the id when retention deletes the record (sweep.lua); until
  -- then session_list.lua leaves it out by the owner's own retire set
  local owner = redis.call('HGET', rec, 'owner')
  if owner then
    redis.call('ZADD', prefix .. 'retire', now + tonumber(retention_ms), owner .. '\n' .. sid)
    redis.call('ZADD', prefix .. 'user:' .. owner .. ':retire', now + tonumber(retention_ms), sid)
  end
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
                   keep_index, false, 'expire')
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

-- A size as the decimal string records keep (older records hold numbers; tostring would
-- print a large one as 1e+15).
local function size_text(v)
  if type(v) == 'number' then return string.format('%.0f', v) end
  return v or '0'
end

-- The sum of two non-negative decimal strings, exact at any size (Lua numbers are doubles:
-- exact only below 2^53).
local function decimal_add(a, b)
  local out, carry, i, j = {}, 0, #a, #b
  while i > 0 or j > 0 or carry > 0 do
    local d = carry + (i > 0 and tonumber(string.sub(a, i, i)) or 0) +
              (j > 0 and tonumber(string.sub(b, j, j)) or 0)
    out[#out + 1] = d % 10
    carry = math.floor(d / 10)
    i, j = i - 1, j - 1
  end
  return #out > 0 and string.reverse(table.concat(out)) or '0'
end

-- a - b for non-negative decimal strings; nil when b > a.
local function decimal_sub(a, b)
  local out, borrow, i, j = {}, 0, #a, #b
  while i > 0 or j > 0 do
    local d = (i > 0 and tonumber(string.sub(a, i, i)) or 0) - borrow -
              (j > 0 and tonumber(string.sub(b, j, j)) or 0)
    borrow = d < 0 and 1 or 0
    out[#out + 1] = d + 10 * borrow
    i, j = i - 1, j - 1
  end
  if borrow > 0 then return nil end
  local text = string.gsub(string.reverse(table.concat(out)), '^0+', '')
  return text ~= '' and text or '0'
end

-- Makes the session's files the item's (the publishing half of complete; the caller checked
-- that every file with bytes is READY with the blob it linked): a removed file leaves the
-- item; a READY file (PUSH or PULL) becomes the item's file of that name with version + 1
-- ("1" when new) and the received checksum; a file the session did not touch (source NONE, not
-- removed) stays as it is. Then the item's content_version + 1, size = sum of its files' sizes,
-- cached = "1", modified = now. The item's blobs it replaces or removes go on the garbage list.
-- Nothing happens to an item that is gone. Only the session's files are read, not all the
-- item's: the item keeps the sum of its files' sizes in its field files_size, moved by what
-- the session adds and takes away (an item without it, never published or of before this
-- field, is summed over all its files once).
local function session_publish(files, itemfiles, itemkey, now, prefix, item)
  if redis.call('EXISTS', itemkey) == 0 then return end
  local added, taken = '0', '0'
  local sf = redis.call('HGETALL', files)
  for i = 1, #sf, 2 do
    local name, f = sf[i], cjson.decode(sf[i + 1])
    local oldtext = redis.call('HGET', itemfiles, name)
    local old = oldtext and cjson.decode(oldtext) or nil
    local oldblob = old and old.blob and old.blob ~= '' and old.blob or nil
    if f.removed == true then
      if old then
        redis.call('HDEL', itemfiles, name)
        taken = decimal_add(taken, size_text(old.size))
        if oldblob then garbage(prefix, 'items/' .. item .. '/' .. oldblob) end
      end
    elseif f.status == 'READY' and f.source_type ~= 'NONE' then
      local version = old and ((tonumber(old.version) or 0) + 1) or 1
      local size = size_text(f.size or f.bytes_transferred)
      redis.call('HSET', itemfiles, name, cjson.encode({
        name = name, size = size, checksum = f.received,
        version = tostring(version), blob = f.blob}))
      added = decimal_add(added, size)
      if old then taken = decimal_add(taken, size_text(old.size)) end
      if oldblob and oldblob ~= f.blob then garbage(prefix, 'items/' .. item .. '/' .. oldblob) end
    end
  end
  local was = redis.call('HGET', itemkey, 'files_size')
  local size = was and decimal_sub(decimal_add(was, added), taken)
  if not size then
    size = '0'
    for _, text in ipairs(redis.call('HVALS', itemfiles)) do
      size = decimal_add(size, size_text(cjson.decode(text).size))
    end
  end
  redis.call('HINCRBY', itemkey, 'content_version', 1)
  redis.call('HSET', itemkey, 'size', size, 'files_size', size, 'cached', '1', 'modified', now)
end

-- The owner rule (core/fsm.h, session_event_for_operators): an update session belongs to the
-- user who created it; an operator may also act on it where operator_ok. user false is the
-- server itself (scripts without the prelude). Everyone else is told the session does not exist.
local function session_access(rec, user, operator, operator_ok)
  if user == false then return true end
  if operator and operator_ok then return true end
  return user ~= nil and redis.call('HGET', rec, 'owner') == user
end

-- The next state core/ decided for the current state `cur`, from an answer encoded as
-- "STATE=NEXT ..." (core/transfer.c transfer_encode, completion_encode); nil when refused.
local function machine_next(answer, cur)
  return string.match(' ' .. answer .. ' ', ' ' .. cur .. '=([%u_]+) ')
end

-- The opening of every file script. The keys and arguments sit at KEYS[k].. and ARGV[a]..:
-- KEYS record, item lock, item, deadline index, session files, item files; ARGV session id,
-- session timeout ms, lock backstop ms, retention ms, the state an expiry leads to, the expiry
-- message JSON, the transfer lease ms, the state a lapsed transfer is read as per source type
-- ("PUSH=... PULL=...", core/transfer.c transfer_lapsed_state). A script's own arguments
-- start at ARGV[a + 8]. user, operator: the caller (the prelude's; false, true for the server's
-- own scripts), for the owner rule.
local function file_ctx(k, a, user, operator)
  local c = {rec = KEYS[k], lock = KEYS[k + 1], item = KEYS[k + 2], deadlines = KEYS[k + 3],
             files = KEYS[k + 4], itemfiles = KEYS[k + 5], sid = ARGV[a], timeout = ARGV[a + 1],
             lock_ms = ARGV[a + 2], retention = ARGV[a + 3], expire_to = ARGV[a + 4],
             expiry_msg = ARGV[a + 5], lease_ms = tonumber(ARGV[a + 6]), lapsed = ARGV[a + 7],
             user = user, operator = operator}
  c.prefix, c.item_id, c.uuid = prefix_of(c.rec, c.sid)
  return c
end

-- The session must exist and be the caller's, or the caller an operator and operator_ok (else
-- {'NOT_FOUND'}) and, once an expiry that is due has been applied, be
-- in the state `need` asks for, else {'STATE_CHANGED', state}: 'any' (reads), 'active' (ACTIVE:
-- transfers in flight), or a completion answer ("OPEN=OPEN ..."): ACTIVE and the completion
-- machine accepts the event (a session whose complete waits for its pulls has its file set
-- frozen: adds, removals and new uploads refuse with state ACTIVE). Returns the refusal, or
-- nil, the state and the completion state.
local function file_session_check(c, need, now, operator_ok)
  if redis.call('EXISTS', c.rec) == 0 or
     not session_access(c.rec, c.user, c.operator, operator_ok) then
    return {'NOT_FOUND'}
  end
  -- the upload URI is a bearer capability: only the owner (or the server) reads it
  c.mine = c.user == false or redis.call('HGET', c.rec, 'owner') == c.user
  session_expire_if_due(c.rec, c.lock, c.item, c.deadlines, c.sid, c.expire_to, c.expiry_msg,
                        c.retention, now, true)
  local s = redis.call('HMGET', c.rec, 'state', 'completion')
  local completion = s[2] or 'OPEN'
  if need ~= 'any' then
    if s[1] ~= 'ACTIVE' then return {'STATE_CHANGED', s[1]} end
    if need ~= 'active' and not machine_next(need, completion) then
      return {'STATE_CHANGED', s[1]}
    end
  end
  return nil, s[1], completion
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

-- The state the transfer machine decides on: a TRANSFERRING file whose mover's lease lapsed
-- counts as the lapsed state of its source type (the mover is gone; anyone may take over).
local function file_status(c, f, now)
  if f.status == 'TRANSFERRING' and (tonumber(f.lease) or 0) < now then
    return string.match(' ' .. c.lapsed .. ' ', ' ' .. f.source_type .. '=([%u_]+) ') or 'ERROR',
           true
  end
  return f.status, false
end

-- A record as clients read it: a lapsed transfer shows its lapsed state, marked lapsed; the
-- upload capability only to the session's owner.
local function file_view(c, text, now)
  local f = cjson.decode(text)
  local status, lapsed = file_status(c, f, now)
  local hide = c.mine == false and f.upload_nonce ~= nil
  if not lapsed and not hide then return text end
  if lapsed then
    f.status = status
    f.lapsed = true
  end
  if hide then
    f.upload_nonce = nil
    f.upload_key = nil
  end
  return cjson.encode(f)
end

-- A file stops being moved: the lease goes.
local function file_release(f)
  f.attempt = nil
  f.holder = nil
  f.lease = nil
end

-- The staged path of blob b of this session, for the garbage list.
local function staged_path(c, b)
  return 'staging/' .. c.item_id .. '/' .. c.uuid .. '/' .. b
end

-- Drops a file's upload-token entry (replace, remove): the URI dies with the file.
local function file_forget_token(c, f)
  if f and f.upload_key then redis.call('DEL', c.prefix .. 'upload:' .. f.upload_key) end
end

-- The data plane's view of a transfer: the session must be ACTIVE and its file `name`
-- TRANSFERRING, held by `attempt` (a lapsed lease still counts: nobody took the file over).
-- Returns the file's record, decoded, or nil and the refusal ({'STATE_CHANGED', session
-- state} when the session is not ACTIVE, {'STATE_CHANGED', 'REMOVED'} when the file was removed,
-- {'STATE_CHANGED', file status} when another attempt holds it or it is not moving).
local function transfer_file(c, name, attempt, now)
  local refused = file_session_check(c, 'active', now)
  if refused then return nil, refused end
  local f = file_get(c, name)
  if not f or f.removed == true then return nil, {'STATE_CHANGED', 'REMOVED'} end
  if f.status ~= 'TRANSFERRING' or f.attempt ~= attempt then
    return nil, {'STATE_CHANGED', f.status}
  end
  return f
end

-- An item goes (item or library delete): the ACTIVE session holding its lock ends in `state`
-- with `msg` (its uploads and pulls stop at their next heartbeat, its staging goes), and the
-- item's directory of published blobs goes on the garbage list. Never leaves an ACTIVE session
-- on a deleted item. user and reason go on the events stream. True when it ended a session.
local function item_gone(prefix, item_id, state, msg, retention_ms, now, user, reason)
  local base = prefix .. '{' .. item_id .. '}:'
  local holder = redis.call('GET', base .. 'lock')
  local ended = false
  if holder then
    local rec = session_keys(prefix, holder)
    if rec and redis.call('HGET', rec, 'state') == 'ACTIVE' then
      session_finish(rec, base .. 'lock', base .. 'item', prefix .. 'deadlines', holder, state, msg,
                     retention_ms, now, nil, user, reason)
      ended = true
    end
  end
  garbage(prefix, 'items/' .. item_id)
  return ended
end

-- An item leaves the store (item delete, and each batch of a library delete): item_gone, then
-- it leaves its library's item set and name index and the global indexes of item_find.lua
-- (P iname:<lower name>, P itype:<lower type>), and its record, lock, fence and published file
-- list are deleted. lib is the library whose item set holds it. True when it ended a session.
local function item_remove(prefix, lib, item_id, state, msg, retention_ms, now, user, reason)
  local k = prefix .. '{' .. item_id .. '}:'
  local f = redis.call('HMGET', k .. 'item', 'name', 'type')
  local ended = item_gone(prefix, item_id, state, msg, retention_ms, now, user, reason)
  local libkey = prefix .. 'lib:' .. lib
  redis.call('ZREM', libkey .. ':items', item_id)
  if f[1] then
    local lname = string.lower(f[1])
    if redis.call('HGET', libkey .. ':names', lname) == item_id then
      redis.call('HDEL', libkey .. ':names', lname)
    end
    redis.call('SREM', prefix .. 'iname:' .. lname, item_id)
  end
  if f[2] and f[2] ~= '' then
    redis.call('SREM', prefix .. 'itype:' .. string.lower(f[2]), item_id)
  end
  redis.call('DEL', k .. 'item', k .. 'lock', k .. 'fence', k .. 'files')
  return ended
end
