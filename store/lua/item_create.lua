-- item_create.lua: KEYS[2] library record, KEYS[3] item record, KEYS[4] library's items,
-- KEYS[5] library's name index. ARGV[3] id, ARGV[4] name, ARGV[5] '1' to allow a SUBSCRIBED
-- library, ARGV[6] creation ms, ARGV[7] key prefix, ARGV[8..] field/value pairs
-- (library_type is copied here). The item also joins the global indexes that item_find.lua
-- looks a name or a type up in: P iname:<lower name> and, for a type that is not empty,
-- P itype:<lower type> (sets of item ids).
local lib = redis.call('HMGET', KEYS[2], 'type', 'name')
if not lib[1] then return {'NOT_FOUND'} end
if lib[1] == 'SUBSCRIBED' and ARGV[5] ~= '1' then return {'WRONG_TYPE'} end
local lname = string.lower(ARGV[4])
if redis.call('HEXISTS', KEYS[5], lname) == 1 or redis.call('EXISTS', KEYS[3]) == 1 then
  return {'ALREADY_EXISTS', lib[2]}
end
redis.call('HSET', KEYS[3], 'library_type', lib[1], unpack(ARGV, 8))
redis.call('ZADD', KEYS[4], ARGV[6], ARGV[3])
redis.call('HSET', KEYS[5], lname, ARGV[3])
redis.call('SADD', ARGV[7] .. 'iname:' .. lname, ARGV[3])
local typ = redis.call('HGET', KEYS[3], 'type')
if typ and typ ~= '' then redis.call('SADD', ARGV[7] .. 'itype:' .. string.lower(typ), ARGV[3]) end
return {'OK', ARGV[3]}
