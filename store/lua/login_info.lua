-- login_info.lua: the prelude checked and touched the login; answers who it is.
-- Answer: {'OK', user, created ms, last access ms (this one)}.
return {'OK', user, tonumber(redis.call('HGET', KEYS[1], 'created')) or 0, now}
