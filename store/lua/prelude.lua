-- prelude.lua: prepended to every script except login.lua (store/redis.c joins the two texts
-- into one before SCRIPT LOAD). Authenticates and authorizes the caller in the same atomic step
-- as the operation. KEYS[1] = login key, ARGV[1] = login idle ms, ARGV[2] = required privilege
-- mask (decimal). Leaves `now` (Redis TIME, ms) and `user` (the login's user) to the body.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local login = redis.call('HMGET', KEYS[1], 'user', 'privs')
local user = login[1]
if not user then return {'UNAUTHENTICATED'} end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], 'last', now)
local need = tonumber(ARGV[2])
if bit.band(tonumber(login[2]) or 0, need) ~= need then return {'UNAUTHORIZED'} end
