-- login.lua: records a login (the caller checked the password). No prelude.
-- KEYS[1] = login key; ARGV[1] = idle ms, ARGV[2] = user, ARGV[3] = privilege mask.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 'user', ARGV[2], 'privs', ARGV[3], 'created', now, 'last', now)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return {'OK'}
