-- library_create.lua: KEYS[2] library record, KEYS[3] library index. ARGV[3] id, ARGV[4]
-- creation ms, ARGV[5..] field/value pairs of the record.
if redis.call('EXISTS', KEYS[2]) == 1 then return {'ALREADY_EXISTS'} end
redis.call('HSET', KEYS[2], unpack(ARGV, 5))
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
return {'OK', ARGV[3]}
