-- session_complete.lua: complete = EV_COMPLETE through the same compare-and-set as
-- session_change.lua, plus publishing. KEYS[2..7] and ARGV[3..8] as session_lib's file_ctx;
-- ARGV[9] the state machine's answer for complete from every state ("STATE=NEXT/T ...", as
-- session_change.lua). Refused while a file the session added is not READY (PUSH: any other
-- status; PULL: anything but READY or TRANSFERRING), the first by name. If PULL transfers are
-- still in flight the session stays ACTIVE with complete_requested = 1 (its file set frozen)
-- and the last transfer_end.lua completes it. Otherwise session_publish, then the session ends
-- in NEXT.
-- Answer: {'OK', blob the item no longer references, ...} ({'OK'} also when complete is only
-- requested) | {'NOT_FOUND'} | {'STATE_CHANGED', state} | {'FILES_NOT_READY', name}.
local c = file_ctx(2, 3)
local refused, cur = file_session_check(c, 'any', now)
if refused then return refused end
local nxt = string.match(' ' .. ARGV[9] .. ' ', ' ' .. cur .. '=(%u+)/%d ')
if not nxt then return {'STATE_CHANGED', cur} end
local all = redis.call('HGETALL', c.files)
local names, recs = {}, {}
for i = 1, #all, 2 do
  names[#names + 1] = all[i]
  recs[all[i]] = cjson.decode(all[i + 1])
end
table.sort(names)
local pending = false
for _, name in ipairs(names) do
  local f = recs[name]
  if f.removed ~= true and f.source_type ~= 'NONE' and f.status ~= 'READY' then
    if f.source_type == 'PULL' and f.status == 'TRANSFERRING' then
      pending = true
    else
      return {'FILES_NOT_READY', name}
    end
  end
end
if pending then
  redis.call('HSET', c.rec, 'complete_requested', '1')
  return {'OK'}
end
local out = {'OK'}
for _, b in ipairs(session_publish(c.files, c.itemfiles, c.item, now)) do out[#out + 1] = b end
session_finish(c.rec, c.lock, c.item, c.deadlines, c.sid, nxt, '', c.retention, now)
return out
