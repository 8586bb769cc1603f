-- upload_begin.lua: a PUSH upload starts: the upload token's file goes TRANSFERRING with a new
-- blob. No login (the token is the capability), so no prelude. KEYS[1] the token's index key
-- (P upload:<sha256(token)> -> "<session id>\n<name>"); ARGV[1] key prefix, ARGV[2] session
-- timeout ms, ARGV[3] lock backstop ms, ARGV[4] retention ms, ARGV[5] the state an expiry leads
-- to, ARGV[6] the expiry message JSON, ARGV[7] the token, ARGV[8] the blob. The session keys
-- are derived from the session id (standalone Redis, see store/keys.c). A stale index entry (the
-- file was replaced or removed since) is an unknown token. Activity.
-- Answer: {'OK', session id, record} | {'NOT_FOUND'} | {'STATE_CHANGED', state} |
-- {'TRANSFER_BUSY'}.
local now = time_ms()
local v = redis.call('GET', KEYS[1])
if not v then return {'NOT_FOUND'} end
local sid, name = string.match(v, '^([^\n]*)\n(.*)$')
if not sid then return {'NOT_FOUND'} end
local rec, lock, item, files, itemfiles = session_keys(ARGV[1], sid)
if not rec then return {'NOT_FOUND'} end
local c = {rec = rec, lock = lock, item = item, deadlines = ARGV[1] .. 'deadlines', files = files,
           itemfiles = itemfiles, sid = sid, timeout = ARGV[2], lock_ms = ARGV[3],
           retention = ARGV[4], expire_to = ARGV[5], expiry_msg = ARGV[6]}
local refused = file_session_check(c, 'open', now)
if refused then return refused end
local f = file_get(c, name)
if not f or f.removed == true or f.upload_token ~= ARGV[7] then return {'NOT_FOUND'} end
if f.status == 'TRANSFERRING' then return {'TRANSFER_BUSY'} end
f.status = 'TRANSFERRING'
f.blob = ARGV[8]
f.bytes_transferred = 0
f.error_message = nil
f.received = nil
local text = file_put(c, name, f)
file_touch(c, now)
return {'OK', sid, text}
