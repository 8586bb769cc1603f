-- completions_due.lua: finishes what a dead instance left of a requested complete. No login
-- (the sweeper's own). KEYS[1] P completing: zset of sessions whose completion is COMPLETING
-- (core/transfer.h), score = when to look again (the instance that was to finish it holds it
-- until then). ARGV[1] batch, ARGV[2] key prefix, ARGV[3] transfer lease ms, ARGV[4] the lapsed
-- states ("PUSH=... PULL=..."), ARGV[5] the completion machine's answer for PULL_FAILED,
-- ARGV[6] the state a failing session goes to, ARGV[7] its error_message JSON with "\u0001"
-- where the file's name goes, ARGV[8] retention ms.
-- For each due session: gone or no longer COMPLETING -> dropped; a pull whose mover died (its
-- lease lapsed) -> the completion aborts as for a failed pull (the session fails); a pull still
-- moving -> looked at again when its lease ends; every pull done -> claimed by this instance
-- for one lease and answered, so it runs the complete (the one publish path); if it dies too,
-- the claim lapses and another instance's sweep claims it.
-- Answer: {'OK', looked at, claimed session id, ...}.
local now = time_ms()
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'LIMIT', 0, tonumber(ARGV[1]))
local claimed = {}
local view = {lapsed = ARGV[4]}
for _, sid in ipairs(due) do
  local rec, lock, itemkey, files = session_keys(ARGV[2], sid)
  local s = rec and redis.call('HMGET', rec, 'state', 'completion') or {}
  if s[1] ~= 'ACTIVE' or s[2] ~= 'COMPLETING' then
    redis.call('ZREM', KEYS[1], sid)
  else
    local moving_until, failed = nil, nil
    for _, text in ipairs(redis.call('HVALS', files)) do
      local f = cjson.decode(text)
      if f.removed ~= true and f.source_type == 'PULL' then
        local status = file_status(view, f, now)
        if status == 'TRANSFERRING' then
          moving_until = math.max(moving_until or 0, tonumber(f.lease) or now)
        elseif status ~= 'READY' then
          failed = failed or f.name
        end
      end
    end
    if failed and machine_next(ARGV[5], 'COMPLETING') == 'ABORTED' then
      local name = string.gsub(string.sub(cjson.encode(failed), 2, -2), '%%', '%%%%')
      local msg = string.gsub(ARGV[7], '\\u0001', name)
      session_finish(rec, lock, itemkey, ARGV[2] .. 'deadlines', sid, ARGV[6], msg, ARGV[8], now,
                     nil, false, 'fail')
    elseif moving_until then
      redis.call('ZADD', KEYS[1], moving_until, sid)
    else
      redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), sid)
      claimed[#claimed + 1] = sid
    end
  end
end
local out = {'OK', #due}
for i = 1, #claimed do out[#out + 1] = claimed[i] end
return out
