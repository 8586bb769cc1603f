-- transfer_progress.lua: the mover's heartbeat. No login (the data plane's own), so no prelude.
-- KEYS[1..6] and ARGV[1..8] as session_lib's file_ctx; ARGV[9] name, ARGV[10] attempt,
-- ARGV[11] bytes transferred, ARGV[12] staged (durable prefix), ARGV[13] the transfer machine's
-- answer for PROGRESS. Applies only while `attempt` holds the file in an ACTIVE session; renews
-- the lease. Activity.
-- Answer: {'OK'} | {'NOT_FOUND'} | {'STATE_CHANGED', session state or file status}.
local now = time_ms()
local c = file_ctx(1, 1)
local name = ARGV[9]
local f, refused = transfer_file(c, name, ARGV[10], now)
if refused then return refused end
if not machine_next(ARGV[13], f.status) then return {'STATE_CHANGED', f.status} end
f.bytes_transferred = ARGV[11]
f.staged = ARGV[12]
f.lease = tostring(now + c.lease_ms)
file_put(c, name, f)
file_touch(c, now)
return {'OK'}
