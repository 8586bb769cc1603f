-- library_delete.lua: deletes a library of the given type with its items, in batches so that
-- no call blocks Redis for long: each call removes up to ARGV[9] of its items (session_lib's
-- item_remove: records, locks, published file lists, name and type indexes; each item's ACTIVE
-- session ends and its directory goes on the garbage list) and answers 'MORE' while items are left;
-- the call that finds none left deletes the library itself. store/libraries.c calls again
-- until then and answers the client only at the end, so the library stays readable (with
-- fewer items) while it is being deleted, and is NOT_FOUND, with all its items, once the
-- delete answered. A delete cut short (crash, Redis timeout) is finished by the next delete.
-- KEYS[2] library record, KEYS[3] library index, KEYS[4] its items, KEYS[5] its name index.
-- ARGV[3] id, ARGV[4] type, ARGV[5] key prefix, ARGV[6] retention ms, ARGV[7] the state cancel
-- leads an ACTIVE session to, ARGV[8] the message it records, ARGV[9] items per call.
-- Answer: {'OK', sessions it ended[, 'MORE']} | {'NOT_FOUND'}.
if redis.call('HGET', KEYS[2], 'type') ~= ARGV[4] then return {'NOT_FOUND'} end
local ended = 0
local ids = redis.call('ZRANGE', KEYS[4], 0, tonumber(ARGV[9]) - 1)
for _, id in ipairs(ids) do
  if item_remove(ARGV[5], ARGV[3], id, ARGV[7], ARGV[8], ARGV[6], now, user, 'library_delete') then
    ended = ended + 1
  end
end
if redis.call('EXISTS', KEYS[4]) == 1 then return {'OK', tostring(ended), 'MORE'} end
redis.call('DEL', KEYS[2], KEYS[5])
redis.call('ZREM', KEYS[3], ARGV[3])
return {'OK', tostring(ended)}
