-- logout.lua: deletes the login the prelude just checked.
redis.call('DEL', KEYS[1])
return {'OK'}
