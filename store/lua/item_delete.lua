-- item_delete.lua: KEYS[2] item record, KEYS[3] its lock. ARGV[3] id, ARGV[4] key prefix,
-- ARGV[5] retention ms, ARGV[6] the state cancel leads an ACTIVE session to, ARGV[7] the
-- message it records. Ends the item's ACTIVE update session, leaves the library's item set and
-- the name and type indexes, drops the item's published file list and puts its directory on the
-- garbage list (session_lib's item_remove). Answer: {'OK', '1' when it ended a session, else
-- '0'} | {'NOT_FOUND'}.
local lib = redis.call('HGET', KEYS[2], 'library_id')
if not lib then return {'NOT_FOUND'} end
local ended = item_remove(ARGV[4], lib, ARGV[3], ARGV[6], ARGV[7], ARGV[5], now, user,
                          'item_delete')
return {'OK', ended and '1' or '0'}
