-- upload_begin.lua: the data plane meets an upload token: PUT/POST (BEGIN: the whole file again
-- into a new blob), PATCH (RESUME: append to the durable prefix of the file's blob) or HEAD
-- (PROBE: read only). No login (the token is the capability), so no prelude. KEYS[1] the
-- token's index key (P upload:<sha256(token)> -> "<session id>\n<name>"). ARGV[1] key prefix,
-- ARGV[2] session timeout ms, ARGV[3] lock backstop ms, ARGV[4] retention ms, ARGV[5] the state
-- an expiry leads to, ARGV[6] the expiry message JSON, ARGV[7] transfer lease ms, ARGV[8] the
-- lapsed states ("PUSH=... PULL=..."), ARGV[9] the token, ARGV[10] mode BEGIN | RESUME |
-- PROBE, ARGV[11] the attempt id, ARGV[12] the new blob, ARGV[13] the holder, ARGV[14] the
-- transfer machine's answer for the mode's event, ARGV[15] the completion machine's answer for
-- FILE_CHANGE. The session keys are derived from the session id (standalone Redis, see
-- store/keys.c). A stale index entry (the file was replaced or removed since) is an unknown
-- token. A lapsed lease is taken over: the old mover's next heartbeat is refused.
-- Answer: {'OK', session id, record} | {'NOT_FOUND'} | {'STATE_CHANGED', state} |
-- {'TRANSFER_BUSY'} | {'FILE_STATE', record}.
local now = time_ms()
local v = redis.call('GET', KEYS[1])
if not v then return {'NOT_FOUND'} end
local sid, name = string.match(v, '^([^\n]*)\n(.*)$')
if not sid then return {'NOT_FOUND'} end
local rec, lock, item, files, itemfiles = session_keys(ARGV[1], sid)
if not rec then return {'NOT_FOUND'} end
local c = {rec = rec, lock = lock, item = item, deadlines = ARGV[1] .. 'deadlines', files = files,
           itemfiles = itemfiles, sid = sid, timeout = ARGV[2], lock_ms = ARGV[3],
           retention = ARGV[4], expire_to = ARGV[5], expiry_msg = ARGV[6],
           lease_ms = tonumber(ARGV[7]), lapsed = ARGV[8]}
c.prefix, c.item_id, c.uuid = prefix_of(rec, sid)
local mode = ARGV[10]
local refused = file_session_check(c, mode == 'PROBE' and 'active' or ARGV[15], now)
if refused then return refused end
local text = redis.call('HGET', files, name)
local f = text and cjson.decode(text)
if not f or f.removed == true or f.upload_token ~= ARGV[9] then return {'NOT_FOUND'} end
if mode == 'PROBE' then return {'OK', sid, file_view(c, text, now)} end
local status = file_status(c, f, now)
local nxt = machine_next(ARGV[14], status)
if not nxt then
  if status == 'TRANSFERRING' then return {'TRANSFER_BUSY'} end
  return {'FILE_STATE', file_view(c, text, now)}
end
if mode == 'BEGIN' and f.size_received then
  -- a size that came from an earlier upload, not from the client: a new upload is not held to it
  f.size = nil
  f.size_received = nil
end
if mode == 'BEGIN' or not f.blob then
  if f.blob and f.blob ~= ARGV[12] then garbage(c.prefix, staged_path(c, f.blob)) end
  f.blob = ARGV[12]
  f.staged = '0'
  f.bytes_transferred = '0'
end
f.status = nxt
f.attempt = ARGV[11]
f.holder = ARGV[13]
f.lease = tostring(now + c.lease_ms)
f.error_message = nil
f.received = nil
text = file_put(c, name, f)
file_touch(c, now)
return {'OK', sid, text}
