-- session_complete.lua: the one publish path, a compare-and-set over the exact (file, blob)
-- pairs the caller hard-linked into the item's directory. Runs with the prelude (a client's
-- complete) or with only the clock (the server's own, after the last pull of a requested
-- complete: KEYS[1], ARGV[1..2] are then unused). KEYS[2..7] and ARGV[3..10] as session_lib's
-- file_ctx; ARGV[11] the session machine's answer for complete ("STATE=NEXT/T ...", as
-- session_change.lua), ARGV[12] the completion machine's answer for REQUEST, ARGV[13] the
-- linked pairs, one "<blob> <name>" per line, ARGV[14] the completion machine's answer for
-- RETRACT (a refusal for a file that is not READY reopens a COMPLETING session's file set, so
-- the client can replace the file of a pull whose mover died).
-- Every file with bytes (PUSH or PULL, not removed) must be READY with the linked blob, and
-- every linked pair such a file: else nothing changes ({'FILES_NOT_READY', name} for the first
-- file by name that is not READY, else {'FILES_CHANGED', name}); links the item does not
-- reference are left to the storage scan (never pushed as garbage here: a retried complete may
-- link and publish the same blob a moment later). A PULL still TRANSFERRING makes the
-- completion COMPLETING: the session stays ACTIVE with its file set frozen ({'OK',
-- 'REQUESTED'}). Otherwise session_publish, then the session ends in NEXT ({'OK'}).
-- Answer also {'NOT_FOUND'} | {'STATE_CHANGED', state}.
local c = file_ctx(2, 3, user, operator)
local refused, cur, completion = file_session_check(c, 'any', now)
if refused then return refused end
local nxt = string.match(' ' .. ARGV[11] .. ' ', ' ' .. cur .. '=(%u+)/%d ')
if not nxt then return {'STATE_CHANGED', cur} end
local linked = {}
for blob, name in string.gmatch(ARGV[13], '([^ \n]+) ([^\n]+)') do linked[name] = blob end
local all = redis.call('HGETALL', c.files)
local names, recs = {}, {}
for i = 1, #all, 2 do
  names[#names + 1] = all[i]
  recs[all[i]] = cjson.decode(all[i + 1])
end
table.sort(names)
local pending, not_ready, changed, matched = false, nil, nil, {}
for _, name in ipairs(names) do
  local f = recs[name]
  if f.removed ~= true and f.source_type ~= 'NONE' then
    local status = file_status(c, f, now)
    if status == 'TRANSFERRING' and f.source_type == 'PULL' then
      pending = true
    elseif status ~= 'READY' then
      not_ready = not_ready or name
    elseif linked[name] ~= f.blob then
      changed = changed or name
    else
      matched[name] = true
    end
  end
end
if not_ready then
  local to = machine_next(ARGV[14], completion)
  if to and to ~= completion then redis.call('HSET', c.rec, 'completion', to) end
  return {'FILES_NOT_READY', not_ready}
end
for name in pairs(linked) do
  if not matched[name] and not changed then changed = name end
end
if changed then return {'FILES_CHANGED', changed} end
if pending then
  local to = machine_next(ARGV[12], completion)
  if not to then return {'STATE_CHANGED', cur} end
  redis.call('HSET', c.rec, 'completion', to)
  -- watched by the sweepers (completions_due.lua) in case the pulls' instance dies
  redis.call('ZADD', c.prefix .. 'completing', now + c.lease_ms, c.sid)
  return {'OK', 'REQUESTED'}
end
session_publish(c.files, c.itemfiles, c.item, now, c.prefix, c.item_id)
session_finish(c.rec, c.lock, c.item, c.deadlines, c.sid, nxt, '', c.retention, now, nil, user,
               'complete')
return {'OK'}
