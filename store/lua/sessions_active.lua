-- sessions_active.lua: how many update sessions are ACTIVE (usd_sessions_active): the size of
-- the deadline index. No login (the server's own, asked twice a second). KEYS[1] the
-- deadline index. Answer: {'OK', count}.
return {'OK', redis.call('ZCARD', KEYS[1])}
