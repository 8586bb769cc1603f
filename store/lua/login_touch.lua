-- login_touch.lua: renews a login's idle timer for a request authenticated from this instance's
-- login cache (store/logincache.c: at most once per step per login, answer not waited for).
-- No prelude. KEYS[1] the login; ARGV[1] the timer (idle + step ms), ARGV[2] the login's
-- hashed name. A login that is gone is not made again (HSET would create a hash without a
-- TTL). Answer: {'OK', 1} renewed, {'OK', 0, name} gone.
if redis.call('PEXPIRE', KEYS[1], ARGV[1]) == 0 then return {'OK', 0, ARGV[2]} end
local t = redis.call('TIME')
redis.call('HSET', KEYS[1], 'last', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
return {'OK', 1}
