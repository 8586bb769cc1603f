-- item_delete.lua: KEYS[2] item record, KEYS[3] its lock. ARGV[3] id, ARGV[4] key prefix,
-- ARGV[5] retention ms, ARGV[6] the state cancel leads an ACTIVE session to, ARGV[7] the
-- message it records. Ends the item's ACTIVE update session (session_lib's item_gone), leaves
-- the library's item set and name index, drops the item's published file list and puts its
-- directory on the garbage list. Answer: {'OK', '1' when it ended a session, else '0'} |
-- {'NOT_FOUND'}.
local f = redis.call('HMGET', KEYS[2], 'library_id', 'name')
if not f[1] then return {'NOT_FOUND'} end
local ended = item_gone(ARGV[4], ARGV[3], ARGV[6], ARGV[7], ARGV[5], now, user, 'item_delete')
local lib = ARGV[4] .. 'lib:' .. f[1]
redis.call('ZREM', lib .. ':items', ARGV[3])
if f[2] and redis.call('HGET', lib .. ':names', string.lower(f[2])) == ARGV[3] then
  redis.call('HDEL', lib .. ':names', string.lower(f[2]))
end
redis.call('DEL', KEYS[2], KEYS[3], (string.gsub(KEYS[2], ':item$', ':fence')),
           (string.gsub(KEYS[2], ':item$', ':files')))
return {'OK', ended and '1' or '0'}
