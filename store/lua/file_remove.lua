-- file_remove.lua: marks a file removed (it leaves the item on complete). The session's record
-- gets removed = true; a file only the item has gets a record {source NONE, READY, removed}.
-- Removal ends any transfer of the file (the lease goes: its mover's next heartbeat is
-- refused), its upload URI dies and its staged blob goes on the garbage list. KEYS[2..7] and
-- ARGV[3..10] as session_lib's file_ctx; ARGV[11] name, ARGV[12] the transfer machine's answer
-- for REMOVE, ARGV[13] the completion machine's answer for FILE_CHANGE. Activity.
-- Answer: {'OK'} | {'NO_FILE'} (neither has it, or removed already) | {'FILE_STATE', status} |
-- {'NOT_FOUND'} | {'STATE_CHANGED', state}.
local c = file_ctx(2, 3)
local name = ARGV[11]
local refused = file_session_check(c, ARGV[13], now)
if refused then return refused end
local f = file_get(c, name)
if f then
  if f.removed == true then return {'NO_FILE'} end
  local status = file_status(c, f, now)
  if not machine_next(ARGV[12], status) then return {'FILE_STATE', status} end
  if f.blob then garbage(c.prefix, staged_path(c, f.blob)) end
  file_forget_token(c, f)
  file_release(f)
  f.blob = nil
  f.upload_key = nil
  f.removed = true
  file_put(c, name, f)
elseif redis.call('HEXISTS', c.itemfiles, name) == 1 then
  file_put(c, name, {name = name, source_type = 'NONE', status = 'READY', bytes_transferred = '0',
                     removed = true})
else
  return {'NO_FILE'}
end
file_touch(c, now)
return {'OK'}
