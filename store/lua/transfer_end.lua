-- transfer_end.lua: an attempt ended (READY, PAUSE or FAIL). No login, no prelude. KEYS[1..6]
-- and ARGV[1..8] as session_lib's file_ctx; ARGV[9] name, ARGV[10] attempt, ARGV[11] the
-- transfer machine's answer for the event, ARGV[12] the outcome to merge into the record (JSON:
-- bytes_transferred, size?, staged?, received?, error_message?), ARGV[13] the completion
-- machine's answer for PULL_READY or PULL_FAILED ('' for a PUSH), ARGV[14] the state a session
-- whose completion aborts goes to, ARGV[15] its error_message JSON ("The transfer of file X
-- failed: ..."). Applies only while `attempt` holds the file in an ACTIVE session; the lease
-- goes. A failed transfer's blob goes on the garbage list (a paused one keeps its durable
-- prefix for a resume). Activity.
-- If the session's completion is COMPLETING (its complete found pulls in flight): a failed pull
-- aborts it (the session ends in ARGV[14]); when the last pull ended READY the answer says
-- 'COMPLETE' and the caller runs the complete (session_complete.lua, the one publish path),
-- holding it for one lease in P completing.
-- Answer: {'OK'} | {'OK', 'COMPLETE'} | {'OK', 'ABORTED'} (the session ended) | {'NOT_FOUND'} |
-- {'STATE_CHANGED', state or status}.
local now = time_ms()
local c = file_ctx(1, 1, false, true)
local name = ARGV[9]
local f, refused = transfer_file(c, name, ARGV[10], now)
if refused then return refused end
local nxt = machine_next(ARGV[11], f.status)
if not nxt then return {'STATE_CHANGED', f.status} end
local r = cjson.decode(ARGV[12])
f.status = nxt
f.bytes_transferred = r.bytes_transferred
if r.size then
  if not f.size then f.size_received = true end -- not declared by the client: see upload_begin
  f.size = r.size
end
if r.staged then f.staged = r.staged end
f.received = r.received
f.error_message = r.error_message
file_release(f)
if nxt == 'ERROR' and f.blob then
  garbage(c.prefix, staged_path(c, f.blob))
  f.blob = nil
  f.staged = '0'
end
file_put(c, name, f)
file_touch(c, now)
if ARGV[13] == '' then return {'OK'} end
local completion = machine_next(ARGV[13], redis.call('HGET', c.rec, 'completion') or 'OPEN')
if completion == 'ABORTED' then
  session_finish(c.rec, c.lock, c.item, c.deadlines, c.sid, ARGV[14], ARGV[15], c.retention, now,
                 nil, false, 'fail')
  return {'OK', 'ABORTED'}
end
if completion ~= 'COMPLETING' then return {'OK'} end
for _, text in ipairs(redis.call('HVALS', c.files)) do
  local g = cjson.decode(text)
  if g.removed ~= true and file_status(c, g, now) == 'TRANSFERRING' then return {'OK'} end
end
-- this instance runs the complete now; if it dies doing so, the claim lapses after one lease
-- and another instance's sweep (completions_due.lua) runs it
redis.call('ZADD', c.prefix .. 'completing', now + c.lease_ms, c.sid)
return {'OK', 'COMPLETE'}
