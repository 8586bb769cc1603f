-- transfer_progress.lua: bytes of a transfer arrived. No login (the data plane's own), so no
-- prelude. KEYS[1..6] and ARGV[1..6] as session_lib's file_ctx; ARGV[7] name, ARGV[8] blob,
-- ARGV[9] bytes transferred. Applies only while the file is TRANSFERRING with that blob in an
-- ACTIVE session. Activity.
-- Answer: {'OK'} | {'NOT_FOUND'} | {'STATE_CHANGED', session state or file status}.
local now = time_ms()
local c = file_ctx(1, 1)
local name = ARGV[7]
local f, refused = transfer_file(c, name, ARGV[8], now)
if refused then return refused end
f.bytes_transferred = tonumber(ARGV[9])
file_put(c, name, f)
file_touch(c, now)
return {'OK'}
