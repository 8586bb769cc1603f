-- file_remove.lua: marks a file removed (it leaves the item on complete). The session's record
-- gets removed = true (not while TRANSFERRING); a file only the item has gets a record
-- {source NONE, READY, removed}. KEYS[2..7] and ARGV[3..8] as session_lib's file_ctx; ARGV[9]
-- name. Activity. Answer: {'OK'} | {'NO_FILE'} (neither has it, or removed already) |
-- {'TRANSFER_BUSY'} | {'NOT_FOUND'} | {'STATE_CHANGED', state}.
local c = file_ctx(2, 3)
local name = ARGV[9]
local refused = file_session_check(c, 'open', now)
if refused then return refused end
local f = file_get(c, name)
if f then
  if f.removed == true then return {'NO_FILE'} end
  if f.status == 'TRANSFERRING' then return {'TRANSFER_BUSY'} end
  f.removed = true
  file_put(c, name, f)
elseif redis.call('HEXISTS', c.itemfiles, name) == 1 then
  file_put(c, name, {name = name, source_type = 'NONE', status = 'READY', bytes_transferred = 0,
                     removed = true})
else
  return {'NO_FILE'}
end
file_touch(c, now)
return {'OK'}
