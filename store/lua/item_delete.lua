-- item_delete.lua: KEYS[2] item record, KEYS[3] its lock, KEYS[4] its fence. ARGV[3] id,
-- ARGV[4] key prefix. Also leaves the library's item set and name index, and drops the item's
-- published file list (the caller removes the files on disk).
local f = redis.call('HMGET', KEYS[2], 'library_id', 'name')
if not f[1] then return {'NOT_FOUND'} end
local lib = ARGV[4] .. 'lib:' .. f[1]
redis.call('ZREM', lib .. ':items', ARGV[3])
if f[2] and redis.call('HGET', lib .. ':names', string.lower(f[2])) == ARGV[3] then
  redis.call('HDEL', lib .. ':names', string.lower(f[2]))
end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], (string.gsub(KEYS[2], ':item$', ':files')))
return {'OK'}
