-- file_add.lua: adds a file to an ACTIVE session, or replaces the session's file of that name
-- (not while it is TRANSFERRING). KEYS[2..7] and ARGV[3..8] as session_lib's file_ctx;
-- KEYS[8] the upload token's index key (only for a file with an upload token). ARGV[9] name,
-- ARGV[10] the record (JSON, encoded by store/files.c), ARGV[11] the index key's TTL ms.
-- Activity. Answer: {'OK', 'S', record} | {'NOT_FOUND'} | {'STATE_CHANGED', state} |
-- {'TRANSFER_BUSY'}.
local c = file_ctx(2, 3)
local name = ARGV[9]
local refused = file_session_check(c, 'open', now)
if refused then return refused end
local old = file_get(c, name)
if old and old.status == 'TRANSFERRING' then return {'TRANSFER_BUSY'} end
redis.call('HSET', c.files, name, ARGV[10])
if KEYS[8] then redis.call('SET', KEYS[8], c.sid .. '\n' .. name, 'PX', ARGV[11]) end
file_touch(c, now)
return {'OK', 'S', ARGV[10]}
