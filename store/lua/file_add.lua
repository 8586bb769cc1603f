-- file_add.lua: adds a file to an ACTIVE session, or replaces the session's file of that name.
-- KEYS[2..7] and ARGV[3..10] as session_lib's file_ctx; KEYS[8] the upload token's index key
-- (only for a PUSH file). ARGV[11] name, ARGV[12] the record (JSON, encoded by store/files.c),
-- ARGV[13] the transfer machine's answer for the add (ADD_PUSH or ADD_PULL), ARGV[14] the
-- completion machine's answer for FILE_CHANGE, ARGV[15] max files per session.
-- A replaced file's staged blob goes on the garbage list and its upload URI dies; a PULL record
-- (TRANSFERRING, attempt and holder set by the caller) gets its lease. The new upload-token
-- entry has no TTL: it is deleted with the file or when the session ends. Activity.
-- Answer: {'OK', 'S', record} | {'NOT_FOUND'} | {'STATE_CHANGED', state} | {'TRANSFER_BUSY'} |
-- {'FILE_STATE', status} | {'TOO_MANY_FILES'}.
local c = file_ctx(2, 3)
local name = ARGV[11]
local refused = file_session_check(c, ARGV[14], now)
if refused then return refused end
local old = file_get(c, name)
if old and old.removed ~= true then
  local status = file_status(c, old, now)
  if not machine_next(ARGV[13], status) then
    if status == 'TRANSFERRING' then return {'TRANSFER_BUSY'} end
    return {'FILE_STATE', status}
  end
end
if not old and redis.call('HLEN', c.files) >= tonumber(ARGV[15]) then return {'TOO_MANY_FILES'} end
if old then
  if old.blob then garbage(c.prefix, staged_path(c, old.blob)) end
  file_forget_token(c, old)
end
local f = cjson.decode(ARGV[12])
if f.attempt then f.lease = tostring(now + c.lease_ms) end
local text = file_put(c, name, f)
if KEYS[8] then redis.call('SET', KEYS[8], c.sid .. '\n' .. name) end
file_touch(c, now)
return {'OK', 'S', text}
