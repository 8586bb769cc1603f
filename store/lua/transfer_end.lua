-- transfer_end.lua: a transfer ended. No login, no prelude. KEYS[1..6] and ARGV[1..6] as
-- session_lib's file_ctx; ARGV[7] name, ARGV[8] blob, ARGV[9] the outcome to merge into the
-- record (JSON: status READY or ERROR, bytes_transferred, size?, received?, error_message?),
-- ARGV[10] the state complete leads to, ARGV[11] the state a failed transfer leads a session
-- whose complete was requested to, ARGV[12] that session's error_message JSON ("The transfer of
-- file X failed: ..."). Applies only while the file is TRANSFERRING with that blob in an ACTIVE
-- session. Activity.
-- If the session's complete was requested (session_complete.lua found PULL transfers in
-- flight): an ERROR outcome ends the session in ARGV[11] with ARGV[12]; the last READY outcome
-- publishes and ends it in ARGV[10].
-- Answer: {'OK', blob the item no longer references, ...} | {'NOT_FOUND'} |
-- {'STATE_CHANGED', session state or file status}.
local now = time_ms()
local c = file_ctx(1, 1)
local name = ARGV[7]
local f, refused = transfer_file(c, name, ARGV[8], now)
if refused then return refused end
local r = cjson.decode(ARGV[9])
f.status = r.status
f.bytes_transferred = r.bytes_transferred
if r.size then f.size = r.size end
f.received = r.received
f.error_message = r.error_message
file_put(c, name, f)
file_touch(c, now)
if redis.call('HGET', c.rec, 'complete_requested') ~= '1' then return {'OK'} end
if f.status ~= 'READY' then
  session_finish(c.rec, c.lock, c.item, c.deadlines, c.sid, ARGV[11], ARGV[12], c.retention, now)
  return {'OK'}
end
for _, text in ipairs(redis.call('HVALS', c.files)) do
  if cjson.decode(text).status == 'TRANSFERRING' then return {'OK'} end
end
local out = {'OK'}
for _, b in ipairs(session_publish(c.files, c.itemfiles, c.item, now)) do out[#out + 1] = b end
session_finish(c.rec, c.lock, c.item, c.deadlines, c.sid, ARGV[10], '', c.retention, now)
return out
