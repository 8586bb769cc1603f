-- file_get.lua: one file of a session: the session's record, else the item's file of that name.
-- A read: served in every state while the session exists (a client reads why a file failed
-- after its session failed); activity only when ACTIVE. KEYS[2..7] and ARGV[3..10] as
-- session_lib's file_ctx; ARGV[11] name. A transfer whose lease lapsed reads as its lapsed
-- state. Answer: {'OK', 'S', session record} | {'OK', 'I', item file} | {'NO_FILE'} (also for a
-- file the session removed) | {'NOT_FOUND'}.
local c = file_ctx(2, 3, user, operator)
local name = ARGV[11]
local refused, state = file_session_check(c, 'any', now, true)
if refused then return refused end
if state == 'ACTIVE' then file_touch(c, now) end
local text = redis.call('HGET', c.files, name)
if text then
  if cjson.decode(text).removed == true then return {'NO_FILE'} end
  return {'OK', 'S', file_view(c, text, now)}
end
text = redis.call('HGET', c.itemfiles, name)
if text then return {'OK', 'I', text} end
return {'NO_FILE'}
